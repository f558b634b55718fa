/**
 * A registry that loses a layer blob under a build-id tag (deleted, or garbage
 * collected) after a build: the next run notices (HEAD of every blob of the
 * build-id manifest) and builds it again, instead of failing every later run.
 * The same when the build id names BuildKit's index of the image and its
 * attestation (built on the fleet's containerd-store engine): the image's blobs
 * are found through the index.
 * A registry instance of the suite's own (deletes enabled, another port), since
 * the test deletes blobs; docker pushes to it directly.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REFERENCE_TYPE, RegistryClient } from "../../../libs/docker/src";
import { createDockerWorkspace, dockerFixture, makeTestBase, requireDockerEnvironment, testAlpine, type DockerEnvironment } from "../docker";
import { requireFleet, type Fleet } from "../fleet";
import type { Workspace } from "../workspace";

let shared: DockerEnvironment;
let env: DockerEnvironment;
let registry: ResultPromise | undefined;
let storage: string;
let ws: Workspace;
let attested: Workspace;
let fleet: Fleet;

const freePort = (): Promise<number> =>
  new Promise((ok) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });

beforeAll(async () => {
  shared = requireDockerEnvironment();
  // The shared registry's users (tools/ci/setup-docker.sh), its own storage, deletes enabled.
  storage = mkdtempSync(join(tmpdir(), "obi-lost-blobs-registry-"));
  const port = await freePort();
  const htpasswd = join(process.env.OBI_STATE_DIR ?? "/var/lib/obi-ci", "htpasswd");
  writeFileSync(
    join(storage, "registry.yml"),
    `version: 0.1\nlog: { level: warn }\nstorage:\n  filesystem: { rootdirectory: ${storage}/data }\n  delete: { enabled: true }\nhttp: { addr: "127.0.0.1:${port}" }\nauth:\n  htpasswd: { realm: obi, path: ${htpasswd} }\n`,
  );
  registry = execa("docker-registry", ["serve", join(storage, "registry.yml")], { reject: false });
  for (let i = 0; i < 50; i++) {
    const r = await fetch(`http://127.0.0.1:${port}/v2/`).catch(() => undefined);
    if (r?.status === 401) break;
    await new Promise((ok) => setTimeout(ok, 200));
  }
  const address = `127.0.0.1:${port}`;
  env = { ...shared, registry: address, client: new RegistryClient({ credentials: (r) => (r === address ? shared.credentials : undefined) }) };
  const prefix = `${address}/lost`;
  await makeTestBase(env, `${prefix}/base/alpine:3.23`, [], ["amd64"]);
  const alpine = testAlpine(prefix, "alpine-3.23", "3.23", "3.23", { amd64: "" }, { default: true, aliases: ["alpine"] });
  ws = createDockerWorkspace(env, prefix, dockerFixture([alpine], { releases: ["5.4.1"], variants: [] }));
  fleet = requireFleet();
  attested = createDockerWorkspace(env, `${address}/attested`, dockerFixture([testAlpine(`${address}/attested`, "alpine-3.23", "3.23", "3.23", { amd64: "" }, { default: true, aliases: ["alpine"] })], { releases: ["5.4.1"], variants: [] }), {
    attestations: { provenance: "min", sbom: false },
  });
  await makeTestBase(env, `${address}/attested/base/alpine:3.23`, [], ["amd64"]);
}, 600_000);

afterAll(() => {
  ws?.dispose();
  attested?.dispose();
  if (registry?.pid) process.kill(registry.pid, "SIGTERM");
  rmSync(storage, { recursive: true, force: true });
});

const publishArgs = ["run-many", "-t", "publish", "--exclude=archive", "--outputStyle=static"];

/** The registry loses `blob` of `repo` (a DELETE, as garbage collection would), and the client sees it missing under `idTag`. */
async function loseBlob(repo: string, blob: string, idTag: string): Promise<void> {
  const path = repo.slice(repo.indexOf("/") + 1);
  const del = await fetch(`http://${env.registry}/v2/${path}/blobs/${blob}`, {
    method: "DELETE",
    headers: { Authorization: `Basic ${Buffer.from(`${env.username}:${env.credentials.password}`).toString("base64")}` },
  });
  expect(del.status).toBe(202);
  expect(await env.client.missingBlobs(idTag)).toEqual([blob]);
}

/** The run after the loss succeeded, said why it built the opam image again, and left nothing missing. */
async function expectRebuilt(again: { exitCode: number; all: string }, buildId: string, lost: string, idTag: string): Promise<void> {
  expect(again.exitCode, again.all.slice(-3000)).toBe(0);
  expect(again.all).toMatch(new RegExp(`alpine-3\\.23-opam \\(amd64\\): build ${buildId.slice(0, 12)} is in \\S+, but a blob of it is missing \\(${lost.slice(0, 19)}\\); building it again`));
  expect(await env.client.missingBlobs(idTag)).toEqual([]);
}

describe("a layer blob deleted from staging after a build", () => {
  it("is noticed by the next run, which builds it again and publishes", async () => {
    const first = await ws.nx(publishArgs);
    expect(first.exitCode, first.all.slice(-3000)).toBe(0);
    const record = JSON.parse(readFileSync(ws.path("dist/images/alpine-3.23-opam/build-amd64.json"), "utf8")) as { stagingTag: string; buildId: string };
    const repo = record.stagingTag.slice(0, record.stagingTag.lastIndexOf(":"));
    const idTag = `${repo}:build-${record.buildId}`;
    const manifest = await env.client.getManifest(idTag);
    const layers = (JSON.parse(manifest?.bytes.toString("utf8") ?? "{}") as { layers: { digest: string }[] }).layers;
    const lost = layers.at(-1)?.digest as string;
    // The registry loses the image's own last layer (not the base's).
    await loseBlob(repo, lost, idTag);

    await expectRebuilt(await ws.nx([...publishArgs, "--skip-nx-cache"]), record.buildId, lost, idTag);
    for (const image of ["alpine-3.23-opam", "alpine-3.23-ocaml-5.4"]) {
      const r = JSON.parse(readFileSync(ws.path(`dist/images/${image}/build-amd64.json`), "utf8")) as { stagingTag: string; digest: string };
      expect(await env.client.missingBlobs(`${repo}@${r.digest}`), image).toEqual([]);
    }
  });
});

/** Reads a manifest the test's registry holds, as JSON. */
async function manifestJson(reference: string): Promise<{ layers?: { digest: string }[]; manifests?: { digest: string; annotations?: Record<string, string> }[] }> {
  const manifest = await env.client.getManifest(reference);
  return JSON.parse(manifest?.bytes.toString("utf8") ?? "{}") as { layers?: { digest: string }[]; manifests?: { digest: string; annotations?: Record<string, string> }[] };
}

describe("a layer blob deleted from under BuildKit's index of an image and its attestation", () => {
  it("is found through the index by the next run, which builds it again", async () => {
    // The containerd-store engine's docker driver makes attestations: the build id names an index.
    const runEnv = { DOCKER_HOST: fleet.ociSocket };
    const first = await attested.nx(publishArgs, runEnv);
    expect(first.exitCode, first.all.slice(-3000)).toBe(0);
    expect(first.all).not.toMatch(/cannot make attestations/);
    const record = JSON.parse(readFileSync(attested.path("dist/images/alpine-3.23-opam/build-amd64.json"), "utf8")) as { stagingTag: string; buildId: string };
    const repo = record.stagingTag.slice(0, record.stagingTag.lastIndexOf(":"));
    const idTag = `${repo}:build-${record.buildId}`;
    const index = await manifestJson(idTag);
    const image = index.manifests?.find((d) => d.annotations?.[REFERENCE_TYPE] === undefined);
    expect(index.manifests, "an index of the image and its attestation").toHaveLength(2);
    const lost = (await manifestJson(`${repo}@${image?.digest}`)).layers?.at(-1)?.digest as string;
    await loseBlob(repo, lost, idTag);

    await expectRebuilt(await attested.nx([...publishArgs, "--skip-nx-cache"], runEnv), record.buildId, lost, idTag);
  });
});
