/**
 * The cache server's command line: every mistake in the flags or the config
 * file is one clear line (naming the file, the field and the bad value) and
 * a non-zero exit, never a stack trace.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../testing/workspace";

const dir = mkdtempSync(join(tmpdir(), "obi-cache-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, "rw"), "a-read-write-token-of-some-length\n");
writeFileSync(join(dir, "cert.pem"), "not a certificate\n");
writeFileSync(join(dir, "key.pem"), "not a key\n");

async function cacheServer(args: string[]) {
  const result = await execa("node", ["-r", "@swc-node/register", join(PROJECT_ROOT, "tools/cache-server/src/main.ts"), ...args], {
    cwd: PROJECT_ROOT,
    reject: false,
    timeout: 60_000,
  });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr).trim() };
}

function configFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const valid = { host: "127.0.0.1", port: 0, storage: { directory: join(dir, "store") }, readWriteTokenFile: join(dir, "rw") };

function expectOneLine(stderr: string, ...parts: (string | RegExp)[]) {
  expect(stderr.split("\n"), stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  for (const part of parts) expect(stderr).toMatch(part);
}

describe("cache server flags", () => {
  it("prints usage for --help and exits 0", async () => {
    const result = await cacheServer(["--help"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/--config/);
  });

  it("refuses an unknown flag in one line, exit 2", async () => {
    const result = await cacheServer(["--conifg", "x.json"]);
    expect(result.exitCode).toBe(2);
    expectOneLine(result.stderr, "--conifg");
  });

  it("refuses a stray argument in one line, exit 2", async () => {
    const result = await cacheServer(["--config", "a.json", "b.json"]);
    expect(result.exitCode).toBe(2);
    expectOneLine(result.stderr, "b.json");
  });
});

describe("cache server config mistakes", () => {
  const cases: [string, string, (string | RegExp)[]][] = [
    ["invalid JSON", '{\n  "port": 3030,\n  "host" "127.0.0.1"\n}\n', [/invalid JSON/, /line 3, column 10/]],
    ["truncated JSON", '{\n  "port": 3030,\n', [/invalid JSON/, /line 3, column 1/]],
    ["a port that is not a number", JSON.stringify({ ...valid, port: "abc" }), ["port", '"abc"']],
    ["a port out of range", JSON.stringify({ ...valid, port: 70000 }), ["port", "70000"]],
    ["an unknown field", JSON.stringify({ ...valid, maxbytes: 5 }), ["maxbytes"]],
    ["a storage of the wrong shape", JSON.stringify({ ...valid, storage: { directory: 3 } }), ["storage.directory", "3"]],
    ["an unknown storage field", JSON.stringify({ ...valid, storage: { registry: "localhost:5000/c", pasword: "x" } }), ["storage", "pasword"]],
    ["a budget smaller than one artifact", JSON.stringify({ ...valid, maxBytes: 1000, storage: { directory: "s", maxTotalBytes: 10 } }), ["storage.maxTotalBytes", "10"]],
    ["an unpacked bound that is not a positive integer", JSON.stringify({ ...valid, maxUnpackedBytes: -1 }), ["maxUnpackedBytes", "-1"]],
    ["a missing token file", JSON.stringify({ ...valid, readWriteTokenFile: join(dir, "nope") }), [join(dir, "nope"), "ENOENT"]],
    ["no tokens at all", JSON.stringify({ port: 0 }), ["readWriteTokenFile"]],
    ["a top level that is not an object", "[1, 2]", ["object"]],
    ["a tls without its key", JSON.stringify({ ...valid, tls: { certFile: join(dir, "cert.pem") } }), ["tls.keyFile"]],
    ["an unknown tls field", JSON.stringify({ ...valid, tls: { certFile: "c", keyFile: "k", caFile: "a" } }), ["tls", "caFile"]],
    ["a certificate file that cannot be read", JSON.stringify({ ...valid, tls: { certFile: join(dir, "nope.pem"), keyFile: join(dir, "key.pem") } }), ["tls.certFile", join(dir, "nope.pem"), "ENOENT"]],
    ["a key file that cannot be read", JSON.stringify({ ...valid, tls: { certFile: join(dir, "cert.pem"), keyFile: join(dir, "nope.pem") } }), ["tls.keyFile", "ENOENT"]],
    ["a certificate that is not PEM", JSON.stringify({ ...valid, tls: { certFile: join(dir, "cert.pem"), keyFile: join(dir, "key.pem") } }), ["tls: cannot serve with", join(dir, "cert.pem")]],
  ];
  it.each(cases)("%s: one line naming the file and what is wrong", async (_what, text, parts) => {
    const path = configFile(`${_what.replace(/\W+/g, "-")}.json`, text);
    const result = await cacheServer(["--config", path]);
    expect(result.exitCode).toBe(1);
    expectOneLine(result.stderr, path, ...parts);
  });

  it("names a config file it cannot read", async () => {
    const result = await cacheServer(["--config", join(dir, "missing.json")]);
    expect(result.exitCode).toBe(1);
    expectOneLine(result.stderr, join(dir, "missing.json"), "ENOENT");
  });
});
