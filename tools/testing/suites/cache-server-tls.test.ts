/**
 * The remote cache server over TLS, through the real nx binary: a CA made
 * here signs the server's certificate, nx stores an artifact over HTTPS and a
 * second run with an empty local cache replays it. And what the server says
 * at start about plain HTTP.
 *
 * Nx 24's remote cache client is native code (reqwest with rustls): it trusts
 * the platform's store or SSL_CERT_FILE, and ignores NODE_EXTRA_CA_CERTS
 * (nrwl/nx#32234). The README's recipe, tested here, gives it both: Node's
 * roots plus the CA in one SSL_CERT_FILE, and the CA in NODE_EXTRA_CA_CERTS for
 * the Node side (tasks, scripts, fetch).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "node:https";
import { rootCertificates } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, start, type CacheServerConfig } from "../../cache-server/src/main";
import { makeTestCa, type TestCa } from "../test-ca";
import { cacheHits, createWorkspace, smallFixture, type Workspace } from "../workspace";

const rw = randomBytes(24).toString("hex");
let ca: TestCa;
let dir: string;
let server: Server;
let url: string;
let ws: Workspace;
const log: string[] = [];
const servers: Server[] = [];

const baseConfig = (): CacheServerConfig =>
  loadConfigFrom({ host: "127.0.0.1", port: 0, storage: { directory: join(dir, "store") }, readWriteTokenFile: join(dir, "rw"), maxBytes: 1024 * 1024 });

/** A config as the server reads it from its file. */
function loadConfigFrom(json: Record<string, unknown>): CacheServerConfig {
  const file = join(dir, `config-${randomBytes(4).toString("hex")}.json`);
  writeFileSync(file, JSON.stringify(json));
  return loadConfig(file);
}

beforeAll(async () => {
  ca = makeTestCa();
  dir = mkdtempSync(join(tmpdir(), "obi-cache-tls-"));
  writeFileSync(join(dir, "rw"), `${rw}\n`);
  // The README's recipe: Node's roots and the CA, one file for Nx's native client.
  writeFileSync(join(dir, "nx-ca.pem"), `${rootCertificates.join("\n")}\n${readFileSync(ca.caFile, "utf8")}`);
  const started = await start({ ...baseConfig(), tls: { certFile: ca.certFile, keyFile: ca.keyFile } }, (line) => log.push(line));
  server = started.server;
  url = `https://127.0.0.1:${started.port}`;
  ws = createWorkspace({ fixture: smallFixture(), pluginOptions: { dryRun: true } });
});

afterAll(() => {
  server?.close();
  for (const s of servers) s.close();
  ws?.dispose();
  ca?.dispose();
  // Token files must not outlive the run.
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cacheEnv = (trust: Record<string, string>) => ({
  NX_SELF_HOSTED_REMOTE_CACHE_SERVER: url,
  NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: rw,
  // Each run starts with an empty local cache: what it replays comes from the server.
  NX_CACHE_DIRECTORY: mkdtempSync(join(dir, "nx-cache-")),
  ...trust,
});
const TASK = ["run", "debian-13-opam:render", "--outputStyle=static"];

describe("the cache server over TLS", () => {
  it("says it serves HTTPS", () => {
    expect(log[0]).toMatch(/^nx remote cache on https:\/\/127\.0\.0\.1:\d+, /);
    expect(log.join("\n")).not.toMatch(/plain HTTP/);
  });

  it("stores an artifact from nx over HTTPS, and replays it to a run with an empty local cache", async () => {
    const trust = { SSL_CERT_FILE: join(dir, "nx-ca.pem"), NODE_EXTRA_CA_CERTS: ca.caFile };
    const first = await ws.nxOk(TASK, cacheEnv(trust));
    expect(cacheHits(first.all).size).toBe(0);
    expect(log.some((line) => /^PUT \/v1\/cache\/\d+ 200 /.test(line)), log.join("\n")).toBe(true);
    const before = log.length;
    const second = await ws.nxOk(TASK, cacheEnv(trust));
    expect(cacheHits(second.all).get("debian-13-opam:render")).toBe("remote");
    expect(log.slice(before).filter((line) => /^GET \/v1\/cache\/\d+ 200 /.test(line))).toHaveLength(1);
  });

  it("is refused by nx when nx does not trust the CA: the certificate is checked", async () => {
    const result = await ws.nx(TASK, cacheEnv({ SSL_CERT_FILE: join(dir, "nothing.pem") }));
    expect(result.exitCode).not.toBe(0);
    expect(result.all).toMatch(/Failed to send request: error sending request for url \(https:\/\/127\.0\.0\.1/);
  });

  it("is not reached by Nx 24.0.0 with the CA in NODE_EXTRA_CA_CERTS alone (nrwl/nx#32234; the README's recipe adds SSL_CERT_FILE)", async () => {
    const result = await ws.nx(TASK, cacheEnv({ NODE_EXTRA_CA_CERTS: ca.caFile }));
    // When this starts passing, Nx reads NODE_EXTRA_CA_CERTS: drop SSL_CERT_FILE from the README's recipe.
    expect(result.exitCode).not.toBe(0);
  });

  it("serves Node clients that trust the CA, and no plain HTTP on the same port", async () => {
    const status = await new Promise<number>((ok, fail) => {
      request(`${url}/v1/cache/0123456789`, { ca: readFileSync(ca.caFile), headers: { Authorization: `Bearer ${rw}` } }, (res) => {
        res.resume();
        ok(res.statusCode ?? 0);
      })
        .on("error", fail)
        .end();
    });
    expect(status).toBe(404);
    await expect(fetch(`${url.replace("https:", "http:")}/v1/cache/0123456789`)).rejects.toThrow();
  });
});

describe("plain HTTP at start", () => {
  it("binds to loopback unless told otherwise, and says so", async () => {
    const lines: string[] = [];
    const { host: _host, ...withoutHost } = baseConfig();
    const config = loadConfigFrom({ ...withoutHost, storage: { directory: join(dir, "store-plain") } });
    expect(config.host).toBe("127.0.0.1");
    const started = await start(config, (line) => lines.push(line));
    servers.push(started.server);
    expect(lines[0]).toMatch(/^nx remote cache on http:\/\/127\.0\.0\.1:\d+, /);
    expect(lines[1]).toBe(`plain HTTP, on loopback only: set "tls" (and "host") to serve other machines`);
  });

  it("says plain HTTP leaves the machine when the config binds elsewhere", async () => {
    const lines: string[] = [];
    const started = await start({ ...baseConfig(), host: "0.0.0.0", storage: { directory: join(dir, "store-open") } }, (line) => lines.push(line));
    // Bound, never sent to: no traffic leaves loopback.
    started.server.close();
    expect(lines[1]).toBe(`plain HTTP on 0.0.0.0, as the config says: tokens and artifacts cross the network unencrypted; set "tls" to serve HTTPS`);
  });
});
