/**
 * A build whose builder does not answer says so in its run record (the
 * builder and builderReachable: false), which /metrics turns into
 * baseimages_pipeline_builder_unreachable and the alert of the same name.
 * The builder is a TLS engine on a loopback port where nothing listens; the
 * staging "registry" is a loopback server that has nothing, so the build
 * goes on to its builder.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createWorkspace, smallFixture } from "../workspace";
import { freePort } from "../prometheus";

const ws = createWorkspace({ fixture: smallFixture() });
const dir = mkdtempSync(join(tmpdir(), "obi-unreachable-"));
const registry = createServer((req, res) => res.writeHead(req.url === "/v2/" ? 200 : 404, { "content-type": "application/json" }).end("{}"));
afterAll(() => {
  registry.close();
  ws.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("a builder that does not answer", () => {
  it("fails the build with a run record naming the builder as unreachable", async () => {
    for (const f of ["ca.pem", "cert.pem", "key.pem"]) writeFileSync(join(dir, f), "not a real certificate\n", { mode: 0o600 });
    const port = await freePort();
    await new Promise<void>((r) => registry.listen(0, "127.0.0.1", r));
    const address = registry.address();
    const staging = `127.0.0.1:${typeof address === "object" && address ? address.port : 0}/opam-staging`;
    const builder = { kind: "tls", host: `tcp://127.0.0.1:${port}`, caFile: join(dir, "ca.pem"), certFile: join(dir, "cert.pem"), keyFile: join(dir, "key.pem") };
    const r = await ws.nx(["run", "alpine-3.23-opam:build-amd64", "--outputStyle=static"], { OBI_BUILDER_AMD64: JSON.stringify(builder), OBI_STAGING_REPO: staging, OBI_REGISTRY_RETRIES: "1" });
    expect(r.exitCode, r.all).not.toBe(0);
    expect(r.all).toMatch(/cannot be reached/);
    const run = JSON.parse(ws.read("dist/images/alpine-3.23-opam/build-amd64.run.json")) as Record<string, unknown>;
    expect(run).toMatchObject({ state: "failed", builder: `tcp://127.0.0.1:${port}`, builderReachable: false });
  });
});
