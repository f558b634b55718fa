/**
 * The cache server under abuse (issue 16, §7): a gzip bomb, and a store whose
 * file system is full (a small tmpfs mounted for the test).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { start } from "../../cache-server/src/main";
import { gzipBomb, nxArtifact } from "../../cache-server/src/testing/artifacts";

const rw = randomBytes(24).toString("hex");
let secrets: string;

beforeAll(() => {
  secrets = mkdtempSync(join(tmpdir(), "obi-cache-abuse-tokens-"));
  writeFileSync(join(secrets, "rw"), `${rw}\n`);
});
afterAll(() => rmSync(secrets, { recursive: true, force: true }));

async function serve(directory: string, extra: Record<string, unknown> = {}) {
  const logged: string[] = [];
  const config = { host: "127.0.0.1", port: 0, storage: { directory }, readWriteTokenFile: join(secrets, "rw"), maxBytes: 4 << 20, ...extra };
  const { server, port } = await start(config as Parameters<typeof start>[0], (line) => logged.push(line));
  const put = (hash: string, body: Buffer) =>
    fetch(`http://127.0.0.1:${port}/v1/cache/${hash}`, { method: "PUT", body, headers: { Authorization: `Bearer ${rw}` } });
  const get = (hash: string) => fetch(`http://127.0.0.1:${port}/v1/cache/${hash}`, { headers: { Authorization: `Bearer ${rw}` } });
  return { server, put, get, logged };
}

const close = (server: Server) => new Promise<void>((ok) => server.close(() => ok()));
const filesIn = (dir: string) => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);

describe("a gzip bomb", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "obi-cache-bomb-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // 1 MiB on the wire, a valid Nx artifact of 1 GiB unpacked; maxBytes 4 MiB, so the default bound is 16 MiB.
  it("is refused with 413 once it unpacks past maxUnpackedBytes, at once, and nothing is kept", { timeout: 120_000 }, async () => {
    const bomb = gzipBomb(1 << 30);
    expect(bomb.length).toBeLessThan(4 << 20);
    const { server, put, get, logged } = await serve(dir);
    try {
      const started = Date.now();
      const response = await put("bomb", bomb);
      const took = Date.now() - started;
      expect(response.status).toBe(413);
      expect(await response.text()).toBe("artifact unpacks to more than 16777216 bytes (maxUnpackedBytes)\n");
      expect(took).toBeLessThan(5000);
      expect(logged.find((line) => line.startsWith("PUT /v1/cache/bomb"))).toMatch(/^PUT \/v1\/cache\/bomb 413 \d+ms \(unpacks past 16777216 bytes\)$/);
      expect((await get("bomb")).status).toBe(404);
      expect(filesIn(dir)).toEqual([]);
      // An artifact that unpacks within the bound is stored as before.
      expect((await put("fine", nxArtifact({ "dist/a.txt": "a".repeat(8 << 20) }))).status).toBe(200);
    } finally {
      await close(server);
    }
  });

  it("takes its bound from the config", async () => {
    const { server, put } = await serve(dir, { maxUnpackedBytes: 32 << 20 });
    try {
      expect((await put("fits", nxArtifact({ "dist/a.txt": "a".repeat(24 << 20) }))).status).toBe(200);
      const response = await put("bomb2", gzipBomb(64 << 20));
      expect(response.status).toBe(413);
      expect(await response.text()).toMatch(/more than 33554432 bytes/);
    } finally {
      await close(server);
    }
  });
});

describe("a full store", () => {
  let mountpoint: string;
  beforeAll(() => {
    mountpoint = mkdtempSync(join(tmpdir(), "obi-cache-full-"));
    // 3 MiB of tmpfs: mounted here, unmounted in afterAll (the CI runs the tests as root).
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=3m,mode=0700", "obi-cache-full", mountpoint]);
  });
  afterAll(() => {
    try {
      execFileSync("umount", [mountpoint]);
    } finally {
      rmSync(mountpoint, { recursive: true, force: true });
    }
  });

  it("answers 507 naming the store, keeps nothing partial, and stores again once there is room", { timeout: 60_000 }, async () => {
    const { server, put, get, logged } = await serve(mountpoint);
    try {
      // Random bytes do not compress: 3.5 MiB on the wire, under maxBytes, over the file system's 3 MiB.
      const big = nxArtifact({ "dist/big.bin": randomBytes(3.5 * 1024 * 1024) });
      const response = await put("big", big);
      expect(response.status).toBe(507);
      expect(await response.text()).toBe(`no room in the store (directory ${mountpoint}): ENOSPC; nothing was kept\n`);
      const line = logged.find((l) => l.startsWith("PUT /v1/cache/big"));
      expect(line).toMatch(new RegExp(`^PUT /v1/cache/big 507 \\d+ms \\(directory ${mountpoint} is full: ENOSPC\\)$`));
      expect(logged.join("\n")).not.toContain("client went away");
      expect((await get("big")).status).toBe(404);
      expect(filesIn(mountpoint)).toEqual([]);
      // Nothing partial holds the space: an artifact that fits is stored.
      const small = nxArtifact({ "dist/a.txt": randomBytes(1024 * 1024) });
      expect((await put("small", small)).status).toBe(200);
      expect(Buffer.from(await (await get("small")).arrayBuffer()).equals(small)).toBe(true);
    } finally {
      await close(server);
    }
  });
});
