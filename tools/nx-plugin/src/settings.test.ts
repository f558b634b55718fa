/**
 * The one resolver of options, environment and secrets, and where the password
 * file's credentials may go: to the registry they are for and nowhere else. Two
 * registries on loopback record every Authorization header they receive; one
 * asks for Basic credentials, the other sends clients to a token service (as
 * Docker Hub, quay and mcr do).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSession } from "./executors/shared";
import { liveUpstream } from "./executors/update-pins";
import { DEFAULT_RETRY, digestOf } from "../../../libs/docker/src";
import { batchParallelism, graphDryRun, listStamp, resolveBuilder, resolveRepositories, resolveSettings, retryPolicy } from "./settings";

const PASSWORD = "s3cret-for-the-staging-registry";
const MANIFEST = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [] });
const MANIFEST_DIGEST = digestOf(Buffer.from(MANIFEST));

interface Recorder {
  readonly host: string;
  readonly authorizations: string[];
  close(): void;
}

/** A registry that answers every manifest after authentication; Basic, or Bearer through its own token service. */
async function registry(scheme: "basic" | "bearer"): Promise<Recorder> {
  const authorizations: string[] = [];
  let host = "";
  const server: Server = createServer((req: IncomingMessage, res) => {
    if (req.headers.authorization) authorizations.push(req.headers.authorization);
    if (req.url?.startsWith("/token")) {
      res.writeHead(200, { "Content-Type": "application/json" });
      return res.end(JSON.stringify({ token: "anonymous-pull-token" }));
    }
    const ok = scheme === "basic" ? req.headers.authorization?.startsWith("Basic ") : req.headers.authorization === "Bearer anonymous-pull-token";
    if (!ok) {
      const challenge = scheme === "basic" ? 'Basic realm="test"' : `Bearer realm="http://${host}/token",service="other"`;
      res.writeHead(401, { "WWW-Authenticate": challenge });
      return res.end();
    }
    res.writeHead(200, { "Content-Type": "application/vnd.oci.image.index.v1+json", "Docker-Content-Digest": MANIFEST_DIGEST });
    res.end(MANIFEST);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { host, authorizations, close: () => server.close() };
}

let staging: Recorder;
let other: Recorder;
let dir: string;
let passwordFile: string;

beforeAll(async () => {
  staging = await registry("basic");
  other = await registry("bearer");
  dir = mkdtempSync(join(tmpdir(), "obi-settings-"));
  passwordFile = join(dir, "password");
  writeFileSync(passwordFile, `${PASSWORD}\n`);
});

afterAll(() => {
  staging.close();
  other.close();
  rmSync(dir, { recursive: true, force: true });
});

const leaked = (headers: readonly string[]) =>
  headers.filter((h) => h.includes(Buffer.from(`obi:${PASSWORD}`).toString("base64")) || h.includes(PASSWORD));

describe("the password file's credentials", () => {
  const options = () => ({ stagingRepo: `${staging.host}/opam-staging`, registry: { username: "obi", passwordFile } });

  it("go to the staging repository's registry, which is where they apply when no server is named", async () => {
    const settings = resolveSettings(options(), {});
    expect(settings.auth.server).toBe(staging.host);
    await liveUpstream(settings).imageDigest(`${staging.host}/opam-staging`, "x");
    expect(leaked(staging.authorizations).length).toBeGreaterThan(0);
  });

  it("never reach another registry or its token service, through the pin updater", async () => {
    const settings = resolveSettings(options(), {});
    expect(await liveUpstream(settings).imageDigest(`${other.host}/library/debian`, "13")).toBe(MANIFEST_DIGEST);
    expect(other.authorizations.length).toBeGreaterThan(0);
    expect(leaked(other.authorizations)).toEqual([]);
  });

  it("never reach another registry through a build's or publish's session either", async () => {
    const session = openSession(resolveSettings(options(), {}), () => {});
    try {
      expect((await session.registry.getManifest(`${other.host}/library/alpine:3.24`))?.digest).toBe(MANIFEST_DIGEST);
    } finally {
      session.close();
    }
    expect(leaked(other.authorizations)).toEqual([]);
  });
});

describe("resolving a task's settings", () => {
  const base = { stagingRepo: "localhost:5000/opam-staging", publicRepo: "localhost:5000/opam" };

  it("takes the environment over the options, and the options over the defaults", () => {
    const settings = resolveSettings(
      { ...base, arch: "arm64", builder: "from-options", registry: { username: "a" }, dryRun: true },
      { OBI_STAGING_REPO: "ghcr.io/me/staging", OBI_BUILDER_ARM64: "from-env", OBI_DRY_RUN: "1", OBI_REGISTRY_USER: "b", OBI_NOW: "2026-03-05T00:00:00Z" },
    );
    expect(settings.staging).toEqual({ registry: "ghcr.io", path: "me/staging" });
    expect(settings.public).toEqual({ registry: "localhost:5000", path: "opam" });
    expect(settings.builder?.spec).toEqual({ kind: "buildx", name: "from-env" });
    expect(settings.builder?.setBy).toBe("OBI_BUILDER_ARM64");
    expect(settings.dryRun).toBe(true);
    expect(settings.auth).toEqual({ server: "ghcr.io", username: "b" });
    expect(settings.rebuildPeriod).toMatch(/^7d#\d+$/);
  });

  it("takes a dry run from the graph, which reads OBI_DRY_RUN over the plugin option, and refuses options that say otherwise", () => {
    expect(graphDryRun(false, { OBI_DRY_RUN: "1" })).toBe(true);
    expect(graphDryRun(true, { OBI_DRY_RUN: "0" })).toBe(false);
    expect(graphDryRun(true, {})).toBe(true);
    expect(resolveSettings({ ...base, dryRun: true }, {}).dryRun).toBe(true);
    expect(resolveSettings(base, { OBI_DRY_RUN: "0" }).dryRun).toBe(false);
    // Its records would go where a real run's do: never a dry run there.
    expect(() => resolveSettings(base, { OBI_DRY_RUN: "1" })).toThrow(/^OBI_DRY_RUN=1, but this task's options are a real run's/);
    expect(() => resolveSettings({ ...base, dryRun: false }, {})).toThrow(/^--dryRun=false: .* set OBI_DRY_RUN=0$/);
    // The pin updater writes no record: the environment is all it has.
    expect(resolveSettings(base, { OBI_DRY_RUN: "1" }, "nothing").dryRun).toBe(true);
  });

  it("refuses what it cannot read in one line naming where it came from", () => {
    expect(() => resolveSettings(base, { OBI_DRY_RUN: "yes" })).toThrow(/^OBI_DRY_RUN: "yes" is not a boolean/);
    expect(() => resolveSettings(base, { OBI_STAGING_REPO: "Not A Repo" })).toThrow(/^OBI_STAGING_REPO: "Not A Repo" is not an image repository/);
    expect(() => resolveSettings({ ...base, stagingRepo: "localhost:5000/opam:latest" }, {})).toThrow(/"localhost:5000\/opam:latest" is not an image repository: it has a tag or digest/);
    expect(() => resolveRepositories(base, { OBI_PUBLIC_REPO: "x@sha256:00" })).toThrow(/^OBI_PUBLIC_REPO: /);
    expect(() => resolveSettings(base, { OBI_NOW: "next tuesday" })).toThrow(/OBI_NOW is not a date/);
    expect(() => batchParallelism({ OBI_PARALLEL: "0" })).toThrow(/^OBI_PARALLEL: "0" is not a number of tasks/);
    expect(batchParallelism({ NX_PARALLEL: "5" })).toBe(5);
    expect(batchParallelism({})).toBe(3);
  });
});

describe("retry bounds", () => {
  it("are the defaults unless the environment bounds them, and a bad value is one line naming the variable", () => {
    expect(retryPolicy({})).toEqual(DEFAULT_RETRY);
    expect(retryPolicy({ OBI_REGISTRY_RETRIES: "2", OBI_REGISTRY_RETRY_SECONDS: "5", OBI_REGISTRY_TIMEOUT_SECONDS: "0.5" })).toEqual({
      ...DEFAULT_RETRY,
      attempts: 2,
      withinMs: 5000,
      requestTimeoutMs: 500,
    });
    expect(() => retryPolicy({ OBI_REGISTRY_RETRIES: "0" })).toThrow('OBI_REGISTRY_RETRIES: "0" is not a whole number of tries from 1');
    expect(() => retryPolicy({ OBI_REGISTRY_RETRY_SECONDS: "soon" })).toThrow('OBI_REGISTRY_RETRY_SECONDS: "soon" is not a number of seconds from 0');
  });
});

describe("resolving a build's builder", () => {
  const ssh = { kind: "ssh", host: "ssh://ci@arm64.example.org:2222", keyFile: "/run/secrets/k", knownHostsFile: "/run/secrets/h", slots: 4 } as const;

  it("takes a plain name as a buildx builder, and the batch's parallelism as its slots", () => {
    expect(resolveBuilder({ os: "linux", arch: "arm64", builder: "ocaml-arm64" }, { OBI_PARALLEL: "5" })).toMatchObject({
      spec: { kind: "buildx", name: "ocaml-arm64" },
      slots: 5,
      label: "arm64 builder (buildx builder ocaml-arm64)",
      setBy: "builders.arm64",
    });
    expect(resolveBuilder({ os: "linux", arch: "riscv64" }, {})).toMatchObject({ spec: { kind: "default" }, slots: 3, queue: "default" });
  });

  it("takes an endpoint with its slots, from the options or as JSON from OBI_BUILDER_<ARCH>", () => {
    const fromOptions = resolveBuilder({ os: "linux", arch: "arm64", builder: ssh }, {});
    expect(fromOptions).toMatchObject({ slots: 4, queue: ssh.host, label: `arm64 builder (${ssh.host})` });
    expect(fromOptions.spec).toEqual({ kind: "ssh", host: ssh.host, keyFile: ssh.keyFile, knownHostsFile: ssh.knownHostsFile });
    const fromEnv = resolveBuilder({ os: "linux", arch: "arm64", builder: "ignored" }, { OBI_BUILDER_ARM64: JSON.stringify(ssh) });
    expect(fromEnv).toMatchObject({ queue: ssh.host, setBy: "OBI_BUILDER_ARM64" });
  });

  it("refuses a Windows build without a Windows builder, and a bad override, in one line naming what to set", () => {
    expect(() => resolveBuilder({ os: "windows", arch: "amd64" }, {})).toThrow(/^no Windows builder: .*set builders\.windows in the plugin options \(nx\.json\) or OBI_BUILDER_WINDOWS$/);
    expect(resolveBuilder({ os: "windows", arch: "amd64" }, { OBI_BUILDER_WINDOWS: "win" }).label).toBe("windows builder (buildx builder win)");
    expect(() => resolveBuilder({ os: "linux", arch: "s390x" }, { OBI_BUILDER_S390X: '{"kind":"tls","host":"http://x"}' })).toThrow(/^OBI_BUILDER_S390X: /);
    expect(() => resolveBuilder({ os: "linux", arch: "s390x" }, { OBI_BUILDER_S390X: "{oops" })).toThrow(/^OBI_BUILDER_S390X: not a builder name nor valid JSON/);
  });
});


describe("what images say of themselves", () => {
  const base = { stagingRepo: "localhost:5000/s" };
  it("describes an image from the plan's about and the plugin's imageMetadata, with defaults", () => {
    const about = { title: "debian-13-ocaml-5.4", description: "OCaml 5.4.1 on debian-13", version: "5.4.1" };
    expect(resolveSettings({ ...base, about }, {}).description).toEqual({
      ...about,
      source: "https://github.com/ocurrent/docker-base-images",
      licenses: "LGPL-2.1-only WITH OCaml-LGPL-linking-exception",
    });
    expect(resolveSettings({ ...base, about, imageMetadata: { source: "https://example.org/src", licenses: "MIT", vendor: "V", url: "https://example.org" } }, {}).description).toMatchObject({ vendor: "V", url: "https://example.org", licenses: "MIT" });
    expect(resolveSettings(base, {}).description).toBeUndefined();
  });

  it("asks for provenance (max) and an SBOM by default; a setting names the scanner or turns them off", () => {
    expect(resolveSettings(base, {}).attestations).toEqual({ provenance: "max", sbom: { generator: null } });
    expect(resolveSettings({ ...base, attestations: { provenance: "min", sbom: true, sbomGenerator: "r/scanner:1" } }, {}).attestations).toEqual({ provenance: "min", sbom: { generator: "r/scanner:1" } });
    expect(resolveSettings({ ...base, attestations: { provenance: "off", sbom: false } }, {}).attestations).toEqual({ provenance: "off", sbom: "off" });
  });

  it("stamps a list with the clock and the revision (OBI_NOW, OBI_REVISION), else the workspace's HEAD", () => {
    expect(listStamp("/nonexistent", { OBI_NOW: "2026-12-04T10:00:00Z", OBI_REVISION: "abc" })).toEqual({ created: "2026-12-04T10:00:00.000Z", revision: "abc" });
    const dir = mkdtempSync(join(tmpdir(), "obi-stamp-"));
    try {
      expect(listStamp(dir, { OBI_NOW: "2026-12-04T10:00:00Z" })).toEqual({ created: "2026-12-04T10:00:00.000Z" });
      expect(() => listStamp(dir, { OBI_NOW: "soon" })).toThrow(/OBI_NOW is not a date: soon/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
