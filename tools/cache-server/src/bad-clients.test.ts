/**
 * The cache server against careless and hostile clients, over plain HTTP:
 * nothing Nx cannot replay is stored, bad requests get a 4xx that says why,
 * and a poisoned entry can be removed by an admin (and only by one).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { start } from "./main";
import { nxArtifact, nxTar, tarEntry } from "./testing/artifacts";

const rw = randomBytes(24).toString("hex");
const admin = randomBytes(24).toString("hex");
let dir: string;
let secrets: string;
let server: Server;
let url: string;
let port: number;
const logged: string[] = [];

const put = (hash: string, body: Buffer, token = rw) =>
  fetch(`${url}/v1/cache/${hash}`, { method: "PUT", body, headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/octet-stream" } });
const get = (hash: string, token = rw) => fetch(`${url}/v1/cache/${hash}`, { headers: { Authorization: `Bearer ${token}` } });
const remove = (hash: string, token: string) => fetch(`${url}/v1/cache/${hash}`, { method: "DELETE", headers: { Authorization: `Bearer ${token}` } });
const storedFiles = () => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);

/** A raw request, so the path reaches the server exactly as written. */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const req = request({ host: "127.0.0.1", port, path, headers: { Authorization: `Bearer ${rw}` } }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => ok({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", fail);
    req.end();
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "obi-cache-bad-"));
  secrets = mkdtempSync(join(tmpdir(), "obi-cache-bad-tokens-"));
  writeFileSync(join(secrets, "rw"), `${rw}\n`);
  writeFileSync(join(secrets, "admin"), `${admin}\n`);
  const config = { host: "127.0.0.1", port: 0, storage: { directory: dir }, readWriteTokenFile: join(secrets, "rw"), adminTokenFile: join(secrets, "admin"), maxBytes: 1 << 20 };
  const started = await start(config as Parameters<typeof start>[0], (line) => logged.push(line));
  server = started.server;
  port = started.port;
  url = `http://127.0.0.1:${port}`;
});

afterAll(() => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(secrets, { recursive: true, force: true });
});

describe("uploads that are not Nx artifacts", () => {
  const good = nxArtifact({ "dist/out.txt": "hello\n" });
  const cases: [string, Buffer, RegExp][] = [
    ["an empty body", Buffer.alloc(0), /empty/],
    ["random bytes", randomBytes(4096), /not gzip/],
    ["a tar that is not compressed", nxTar({ "dist/a": "a" }), /not gzip/],
    ["gzip of something else", gzipSync(randomBytes(4096)), /not a tar archive/],
    ["a truncated artifact", good.subarray(0, good.length - 20), /truncated/],
    ["an artifact cut inside an entry", gzipSync(nxTar({ "dist/a": randomBytes(5000) }).subarray(0, 2048)), /truncated/],
    ["a tar without the code entry", gzipSync(Buffer.concat([tarEntry("terminalOutput", Buffer.from("x")), Buffer.alloc(1024)])), /no code entry/],
    ["an entry escaping the cache folder", nxArtifact({ "../../etc/cron.d/x": "boom" }), /outside/],
  ];
  it.each(cases)("refuses %s with 400 and a reason, and stores nothing", async (_what, body, reason) => {
    const hash = randomBytes(6).toString("hex");
    const response = await put(hash, body);
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(reason);
    expect((await get(hash)).status).toBe(404);
    expect(storedFiles()).not.toContain(hash);
    // The refusal does not block the good artifact that follows.
    expect((await put(hash, good)).status).toBe(200);
    expect(Buffer.from(await (await get(hash)).arrayBuffer()).equals(good)).toBe(true);
  });

  it("leaves no temporary file behind", () => {
    expect(storedFiles().filter((name) => name.includes("."))).toEqual([]);
  });
});

/** A chunked PUT (no Content-Length), as a streaming client sends it; `abortAfter` cuts the connection after that many bytes. */
function chunkedPut(hash: string, chunks: Buffer[], abortAfter?: number): Promise<number | "aborted"> {
  return new Promise((ok) => {
    const req = request({ host: "127.0.0.1", port, method: "PUT", path: `/v1/cache/${hash}`, headers: { Authorization: `Bearer ${rw}` } }, (res) => {
      res.resume();
      ok(res.statusCode ?? 0);
    });
    req.on("error", () => ok("aborted"));
    let sent = 0;
    const next = () => {
      const chunk = chunks.shift();
      if (!chunk) return void req.end();
      sent += chunk.length;
      if (abortAfter !== undefined && sent > abortAfter) return void req.destroy();
      req.write(chunk, () => setImmediate(next));
    };
    next();
  });
}

describe("streamed uploads", () => {
  it("answers 413 to a chunked upload that grows past maxBytes, and keeps nothing of it", async () => {
    const hash = randomBytes(6).toString("hex");
    const status = await chunkedPut(hash, Array.from({ length: 20 }, () => randomBytes(64 * 1024)));
    expect(status).toBe(413);
    expect((await get(hash)).status).toBe(404);
    expect(readdirSync(join(dir, ".uploads"))).toEqual([]);
  });

  it("keeps nothing of an upload the client abandons halfway", async () => {
    const hash = randomBytes(6).toString("hex");
    const artifact = nxArtifact({ "dist/big.bin": randomBytes(300 * 1024) });
    const chunks = Array.from({ length: Math.ceil(artifact.length / 32768) }, (_, i) => artifact.subarray(i * 32768, (i + 1) * 32768));
    expect(await chunkedPut(hash, chunks, 128 * 1024)).toBe("aborted");
    // The server notices the abort on its own time.
    for (let i = 0; i < 50 && readdirSync(join(dir, ".uploads")).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(join(dir, ".uploads"))).toEqual([]);
    expect((await get(hash)).status).toBe(404);
    expect((await put(hash, artifact)).status).toBe(200);
  });
});

describe("malformed requests", () => {
  it("answers a malformed escape in the hash with 400, not 500", async () => {
    for (const path of ["/v1/cache/%E0%A4%A", "/v1/cache/%", "/v1/cache/%ZZ"]) {
      const response = await rawGet(path);
      expect(response.status, path).toBe(400);
      expect(response.body, path).toMatch(/hash/);
    }
  });

  it("answers other methods with 405 and an Allow header", async () => {
    for (const method of ["POST", "PATCH", "OPTIONS"]) {
      const response = await fetch(`${url}/v1/cache/1234`, { method, headers: { Authorization: `Bearer ${rw}` } });
      expect(response.status, method).toBe(405);
      expect(response.headers.get("allow"), method).toBe("GET, HEAD, PUT, DELETE");
    }
  });
});

describe("removing a poisoned entry", () => {
  it("only an admin token may delete; the removal is logged and the hash can be stored again", async () => {
    const hash = randomBytes(6).toString("hex");
    const poisoned = nxArtifact({ "dist/out.txt": "wrong\n" });
    const fixed = nxArtifact({ "dist/out.txt": "right\n" });
    expect((await put(hash, poisoned)).status).toBe(200);
    expect((await put(hash, fixed)).status).toBe(409);

    expect((await remove(hash, rw)).status).toBe(403);
    expect((await remove(hash, "not-a-token-not-a-token")).status).toBe(401);
    expect((await get(hash)).status).toBe(200);

    const removed = await remove(hash, admin);
    expect(removed.status).toBe(200);
    expect(logged.some((line) => line.includes(`DELETE /v1/cache/${hash} 200`) && /admin token sha256:[0-9a-f]{12}/.test(line))).toBe(true);
    expect(logged.join("\n")).not.toContain(admin);
    expect((await get(hash)).status).toBe(404);
    expect((await remove(hash, admin)).status).toBe(404);

    expect((await put(hash, fixed)).status).toBe(200);
    expect(Buffer.from(await (await get(hash)).arrayBuffer()).equals(fixed)).toBe(true);
  });
});
