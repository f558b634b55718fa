/**
 * The remote cache server, through the real nx binary and over plain HTTP.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execaSync } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cacheHits, createWorkspace, PROJECT_ROOT, smallFixture, Workspace } from "../workspace";
import { start } from "../../cache-server/src/main";
import { nxArtifact } from "../../cache-server/src/testing/artifacts";

const rw = randomBytes(24).toString("hex");
const ro = randomBytes(24).toString("hex");
let dir: string;
let secrets: string;
let emptyCache: string | undefined;
const requests: string[] = [];
let server: Server;
let url: string;
let a: Workspace;
let b: Workspace;
const MAX = 1024 * 1024;

const put = (hash: string, body: Buffer, token: string) =>
  fetch(`${url}/v1/cache/${hash}`, { method: "PUT", body, headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/octet-stream" } });
const get = (hash: string, token: string) => fetch(`${url}/v1/cache/${hash}`, { headers: { Authorization: `Bearer ${token}` } });
const stored = () => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
const cacheEnv = (token: string) => ({ NX_SELF_HOSTED_REMOTE_CACHE_SERVER: url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: token });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "obi-cache-store-"));
  secrets = mkdtempSync(join(tmpdir(), "obi-cache-tokens-"));
  writeFileSync(join(secrets, "rw"), `${rw}\n`);
  writeFileSync(join(secrets, "ro"), `${ro}\n`);
  const started = await start(
    { host: "127.0.0.1", port: 0, storage: { directory: dir }, readWriteTokenFile: join(secrets, "rw"), readOnlyTokenFile: join(secrets, "ro"), maxBytes: MAX },
    (line) => requests.push(line),
  );
  server = started.server;
  url = `http://127.0.0.1:${started.port}`;
  a = createWorkspace({ fixture: smallFixture(), pluginOptions: { dryRun: true } });
});

afterAll(() => {
  server?.close();
  a?.dispose();
  b?.dispose();
  rmSync(dir, { recursive: true, force: true });
  // Token files must not outlive the run.
  rmSync(secrets, { recursive: true, force: true });
  if (emptyCache) rmSync(emptyCache, { recursive: true, force: true });
});

describe("the remote cache server", () => {
  it("serves a fresh clone every task that another workspace stored", async () => {
    const first = await a.nxOk(["run-many", "-t", "render,build-amd64", "--outputStyle=static"], cacheEnv(rw));
    expect(cacheHits(first.all).size).toBe(0);
    expect(stored().length).toBeGreaterThanOrEqual(18);

    b = new Workspace(mkdtempSync(join(tmpdir(), "obi-ws-clone-")));
    execaSync("git", ["clone", "-q", a.dir, b.dir]);
    symlinkSync(join(PROJECT_ROOT, "node_modules"), b.path("node_modules"));
    const before = requests.length;
    const second = await b.nxOk(["run-many", "-t", "render,build-amd64", "--outputStyle=static"], cacheEnv(ro));
    // Every task is a cache hit, and each was fetched from the server (B's own cache started empty).
    const hits = cacheHits(second.all);
    expect(hits.size).toBe(18);
    expect([...hits.values()].every((where) => where === "remote")).toBe(true);
    const served = requests.slice(before);
    expect(served.filter((l) => /^GET \/v1\/cache\/\S+ 200 /.test(l))).toHaveLength(18);
    expect(served.filter((l) => l.startsWith("PUT"))).toEqual([]);
    // A dry run's records (the workspace is a dry one), restored from the server byte for byte.
    expect(b.read("dist/dry-run/debian-13-ocaml-5.4/build-amd64.json")).toBe(a.read("dist/dry-run/debian-13-ocaml-5.4/build-amd64.json"));
  });

  it("refuses a second PUT of a hash (409) and keeps the first artifact", async () => {
    const hash = stored()[0] as string;
    const before = Buffer.from(await (await get(hash, ro)).arrayBuffer());
    const again = await put(hash, nxArtifact({ "dist/other.txt": "something else" }), rw);
    expect(again.status).toBe(409);
    const after = Buffer.from(await (await get(hash, ro)).arrayBuffer());
    expect(after.equals(before)).toBe(true);
  });

  it("lets a read-only token read but not write", async () => {
    const artifact = nxArtifact({ "dist/x.txt": "x" });
    expect((await put("1234567890", artifact, ro)).status).toBe(403);
    expect((await get("1234567890", rw)).status).toBe(404);
    expect((await put("1234567890", artifact, rw)).status).toBe(200);
    expect((await get("1234567890", ro)).status).toBe(200);
  });

  it("answers a wrong or missing token with 401 and says why", async () => {
    const wrong = await get(stored()[0] as string, "not-a-token-at-all");
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toMatch(/missing or unknown bearer token/);
    expect((await fetch(`${url}/v1/cache/123`)).status).toBe(401);
    emptyCache = mkdtempSync(join(tmpdir(), "obi-nx-cache-"));
    const result = await a.nx(["run-many", "-t", "render", "--outputStyle=static"], { ...cacheEnv("wrong-token-wrong-token"), NX_CACHE_DIRECTORY: emptyCache });
    // Nx stops and shows the server's own explanation.
    expect(result.all).toMatch(/Unauthorized: missing or unknown bearer token/);
  });

  it("refuses artifacts above the size limit and stores nothing of them", async () => {
    const big = Buffer.alloc(MAX + 1, 1);
    expect((await put("2345678901", big, rw)).status).toBe(413);
    expect((await get("2345678901", rw)).status).toBe(404);
  });

  it("allows no path tricks", async () => {
    for (const hash of ["..%2F..%2Fetc%2Fpasswd", "a.b", "%2E%2E", "..%5C..%5Cx"]) {
      expect([400, 404], hash).toContain((await get(hash, rw)).status);
      expect([400, 404], hash).toContain((await put(hash, Buffer.from("x"), rw)).status);
    }
    expect(stored().some((name) => name.includes("."))).toBe(false);
  });
});
