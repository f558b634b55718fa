/**
 * Content addressing, verified: the real registry behind the fault proxy
 * (tools/testing/fault-proxy.ts), which changes one answer as a lying registry
 * or a tampering proxy would — another image's digest in Docker-Content-Digest,
 * another image's bytes for a digest, another config. Our registry client refuses
 * each, naming registry, reference and both digests; a run that meets one fails
 * instead of building FROM, or publishing, another arch's image; and a list is
 * refused unless each entry is the image of its planned platform, once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildIdTag, RegistryClient, type ImageReference } from "../../../libs/docker/src";
import { createDockerWorkspace, dockerFixture, makeTestBase, requireDockerEnvironment, testAlpine, type DockerEnvironment } from "../docker";
import { startFaultProxy, type Answer, type FaultProxy } from "../fault-proxy";
import { expectedTags, publishedProblems } from "../published";
import type { Workspace } from "../workspace";

let env: DockerEnvironment;
let proxy: FaultProxy;
let ws: Workspace;
/** The test's path in the registry (the same through the proxy and directly). */
let path: string;
/** The test base image's two arches, read directly from the registry. */
let images: Record<"amd64" | "arm64", { digest: string; bytes: Buffer; config: string }>;

const through = (): RegistryClient =>
  new RegistryClient({
    credentials: (registry) => (registry === proxy.registry ? env.credentials : undefined),
    retry: { attempts: 2, withinMs: 10_000, firstDelayMs: 100, maxDelayMs: 500, requestTimeoutMs: 5_000 },
  });
const ref = (repository: string, at: { tag: string } | { digest: string }): ImageReference => ({ registry: proxy.registry, repository: `${path}/${repository}`, ...at });
/** The answer with another Docker-Content-Digest. */
const headerSays = (digest: string) => (a: Answer): Answer => ({ ...a, headers: { ...a.headers, "docker-content-digest": digest } });
/** The answer replaced by another manifest, header and all: consistent, and another arch's. */
/** The error a promise fails with; a test failure when it does not. */
const failure = (p: Promise<unknown>): Promise<Error> =>
  p.then(
    () => expect.fail("it was accepted"),
    (e: unknown) => e as Error,
  );
const answerWith = (other: { digest: string; bytes: Buffer }) => (a: Answer): Answer => ({ ...a, headers: { ...a.headers, "docker-content-digest": other.digest }, body: other.bytes });

beforeAll(async () => {
  env = requireDockerEnvironment();
  proxy = await startFaultProxy(env.registry);
  path = `c${Date.now().toString(36)}`;
  await makeTestBase(env, `${env.registry}/${path}/base/alpine:3.23`);
  const entries = (await env.client.platforms(`${env.registry}/${path}/base/alpine:3.23`)) ?? [];
  const read = async (arch: string) => {
    const digest = entries.find((e) => e.platform?.architecture === arch)?.digest ?? expect.fail(`the test base has no ${arch} image`);
    const image = (await env.client.imagePlatform(`${env.registry}/${path}/base/alpine@${digest}`)) ?? expect.fail(`${digest} is missing`);
    return { digest, bytes: image.manifest.bytes, config: image.config };
  };
  images = { amd64: await read("amd64"), arm64: await read("arm64") };
  const prefix = `${proxy.registry}/${path}`;
  const alpine = testAlpine(prefix, "alpine-3.23", "3.23", "3.23", { amd64: "", arm64: "" }, { default: true, aliases: ["alpine"] });
  ws = createDockerWorkspace(env, prefix, dockerFixture([alpine], { releases: ["5.4.1"], variants: [] }), { stagingRepo: `${prefix}/staging` });
}, 600_000);

afterAll(async () => {
  ws?.dispose();
  await proxy?.stop();
});

describe("the registry client, through a registry that lies", () => {
  // A rule a failed test left unspent would change a later answer (BuildKit's too).
  afterEach(() => {
    proxy.clear();
  });

  it("refuses a manifest whose Docker-Content-Digest is another image's, naming registry, reference and both digests", async () => {
    proxy.inject({ fault: { kind: "rewrite", rewrite: headerSays(images.arm64.digest) }, method: "GET", path: /\/base\/alpine\/manifests\/3\.23$/, times: 1 });
    // The tag's index, whose digest the header now names as the arm64 image's.
    const index = (await env.client.getManifest(`${env.registry}/${path}/base/alpine:3.23`)) ?? expect.fail("no index");
    const error = await failure(through().getManifest(ref("base/alpine", { tag: "3.23" })));
    expect(proxy.clear()).toBe(0);
    expect(error.message).toBe(
      `${proxy.registry} answered ${proxy.registry}/${path}/base/alpine:3.23 with content whose digest is ${index.digest}, though its Docker-Content-Digest says ${images.arm64.digest}; refused (the registry, or something between it and us, is not serving what was stored)`,
    );
  });

  it("refuses another image's bytes for a digest, even when the header agrees with them", async () => {
    proxy.inject({ fault: { kind: "rewrite", rewrite: answerWith(images.arm64) }, method: "GET", path: new RegExp(`/manifests/${images.amd64.digest}$`), times: 1 });
    const error = await failure(through().getManifest(ref("base/alpine", { digest: images.amd64.digest })));
    expect(proxy.clear()).toBe(0);
    expect(error.message).toContain(`with content whose digest is ${images.arm64.digest}, not the ${images.amd64.digest} asked for`);
  });

  it("refuses a config blob whose bytes are another's", async () => {
    proxy.inject({ fault: { kind: "rewrite", rewrite: (a) => ({ ...a, body: Buffer.from(a.body.toString("utf8").replace(/"amd64"/g, '"arm64"')) }) }, method: "GET", path: new RegExp(`/blobs/${images.amd64.config}$`), times: 1 });
    const error = await failure(through().imagePlatform(ref("base/alpine", { digest: images.amd64.digest })));
    expect(proxy.clear()).toBe(0);
    expect(error.message).toMatch(new RegExp(`answered ${proxy.registry}/${path}/base/alpine@${images.amd64.config} with content whose digest is sha256:\\w+, not the ${images.amd64.config} asked for`));
  });

  it("writes no list that names an image for a platform its config does not say, or a platform twice", async () => {
    const tag = ref("lists", { tag: "mixed" });
    const amd64 = ref("base/alpine", { digest: images.amd64.digest });
    const arm64 = ref("base/alpine", { digest: images.arm64.digest });
    await expect(through().putManifestList(tag, [{ source: amd64, platform: "linux/amd64" }, { source: arm64, platform: "linux/amd64" }])).rejects.toThrow(
      `${proxy.registry}/${path}/lists:mixed: the list would name linux/amd64 twice (linux/amd64, linux/amd64)`,
    );
    await expect(through().putManifestList(tag, [{ source: amd64, platform: "linux/amd64" }, { source: amd64, platform: "linux/arm64" }])).rejects.toThrow(
      `${proxy.registry}/${path}/lists:mixed: ${proxy.registry}/${path}/base/alpine@${images.amd64.digest} is a linux/amd64 image (its config ${images.amd64.config} says so), not the linux/arm64 image the plan lists there`,
    );
    expect(await env.client.getManifest(`${env.registry}/${path}/lists:mixed`)).toBeUndefined();
    const written = await through().putManifestList(tag, [{ source: amd64, platform: "linux/amd64" }, { source: arm64, platform: "linux/arm64" }]);
    expect(written.digest).toBe((await env.client.getManifest(`${env.registry}/${path}/lists:mixed`))?.digest);
  });
});

interface BuildRecord {
  readonly digest: string;
  readonly buildId: string;
  readonly stagingTag: string;
}
const record = (image: string, arch: string): BuildRecord => JSON.parse(ws.read(`dist/images/${image}/build-${arch}.json`)) as BuildRecord;

describe("nx run-many -t publish, through a registry that lies", () => {
  const staging = () => `${proxy.registry}/${path}/s`;
  const publicRepo = () => `${proxy.registry}/${path}/p`;
  const direct = (text: string) => text.replace(proxy.registry, env.registry);
  const runEnv = () => ({ OBI_STAGING_REPO: staging(), OBI_PUBLIC_REPO: publicRepo(), OBI_REGISTRY_RETRIES: "2", OBI_REGISTRY_RETRY_SECONDS: "10" });
  const publish = (...extra: string[]) => ws.nx(["run-many", "-t", "publish", "--exclude=archive", "--outputStyle=static", ...extra], runEnv());
  /** Every public tag's list, by digest, read directly. */
  const lists = async () => {
    const out = new Map<string, string | undefined>();
    for (const [name] of expectedTags(ws)) out.set(name, (await env.client.getManifest(`${direct(publicRepo())}:${name}`))?.digest);
    return out;
  };
  let published: Map<string, string | undefined>;

  it("publishes first, with nothing changed on the way", async () => {
    const first = await publish();
    expect(first.exitCode, first.all.slice(-3000)).toBe(0);
    expect(await publishedProblems(ws, env.client, direct(publicRepo()), direct)).toEqual([]);
    published = await lists();
    // The first build of 4 images, 2 under QEMU, on a busy machine.
  }, 900_000);

  it("fails, naming registry, reference and both digests, when a build id's manifest comes with another arch's digest; publishes nothing; a rerun converges", async () => {
    const amd64 = record("alpine-3.23-opam", "amd64");
    const arm64 = record("alpine-3.23-opam", "arm64");
    proxy.inject({ fault: { kind: "rewrite", rewrite: headerSays(arm64.digest) }, method: "GET", path: new RegExp(`/manifests/${buildIdTag(amd64.buildId)}$`), times: 1 });
    const before = proxy.seen.length;
    const run = await publish("--skip-nx-cache");
    expect(proxy.clear()).toBe(0);
    expect(run.exitCode, run.all.slice(-3000)).not.toBe(0);
    expect(run.all).toContain(
      `alpine-3.23-opam (amd64): build failed: ${proxy.registry} answered ${staging()}:${buildIdTag(amd64.buildId)} with content whose digest is ${amd64.digest}, though its Docker-Content-Digest says ${arm64.digest}; refused`,
    );
    // Nothing reached a public tag of the images that depend on it; every list is as it was, and whole.
    expect(proxy.seen.slice(before).filter((r) => r.method === "PUT" && /\/p\/manifests\/alpine-3\.23-opam$/.test(r.path))).toEqual([]);
    expect(await lists()).toEqual(published);
    expect(await publishedProblems(ws, env.client, direct(publicRepo()), direct)).toEqual([]);
    const again = await publish();
    expect(again.exitCode, again.all.slice(-3000)).toBe(0);
    expect(await publishedProblems(ws, env.client, direct(publicRepo()), direct)).toEqual([]);
  });

  it("fails when a build id's manifest is another arch's image, header and all: a build is reused only for its own platform; a rerun converges", async () => {
    const amd64 = record("alpine-3.23-opam", "amd64");
    const arm64 = (await env.client.getManifest(direct(`${staging()}:${buildIdTag(record("alpine-3.23-opam", "arm64").buildId)}`))) ?? expect.fail("no arm64 build");
    proxy.inject({ fault: { kind: "rewrite", rewrite: answerWith(arm64) }, method: "GET", path: new RegExp(`/manifests/${buildIdTag(amd64.buildId)}$`), times: 1 });
    const run = await publish("--skip-nx-cache");
    expect(proxy.clear()).toBe(0);
    expect(run.exitCode, run.all.slice(-3000)).not.toBe(0);
    expect(run.all).toContain(`alpine-3.23-opam (amd64): build failed: ${staging()}:${buildIdTag(amd64.buildId)} holds a linux/arm64 image (${arm64.digest}), not a linux/amd64 one`);
    expect(await lists()).toEqual(published);
    const again = await publish();
    expect(again.exitCode, again.all.slice(-3000)).toBe(0);
    expect(await publishedProblems(ws, env.client, direct(publicRepo()), direct)).toEqual([]);
  });

  it("refuses to publish a list naming an image for a platform its config does not say (a record that names another arch's build)", async () => {
    const file = "dist/images/alpine-3.23-opam/build-amd64.json";
    const honest = ws.read(file);
    const arm64 = record("alpine-3.23-opam", "arm64");
    ws.write(file, JSON.stringify({ ...JSON.parse(honest), digest: arm64.digest }));
    try {
      const run = await ws.nx(["run", "alpine-3.23-opam:publish", "--excludeTaskDependencies", "--skip-nx-cache", "--outputStyle=static"], runEnv());
      expect(run.exitCode, run.all.slice(-3000)).not.toBe(0);
      const repo = staging().replace(/\./g, "\\.");
      expect(run.all).toMatch(
        new RegExp(`alpine-3\\.23-opam: publish failed: ${publicRepo().replace(/\./g, "\\.")}:\\S+: ${repo}@${arm64.digest} is a linux/arm64 image \\(its config sha256:\\w+ says so\\), not the linux/amd64 image the plan lists there`),
      );
      expect(await lists()).toEqual(published);
    } finally {
      ws.write(file, honest);
    }
  });
});
