/**
 * Images that describe themselves, for real, through nx end to end.
 *
 * A two-arch matrix is built and published on the fleet's engine with the
 * containerd image store, whose buildx docker driver makes BuildKit's attestations
 * (the classic store's cannot): provenance, and an SBOM from a scanner image made
 * here (FROM the test base, BuildKit's scanner protocol). Every public tag is an
 * OCI index of each arch's image and its attestation manifest, as skopeo reads it;
 * `docker buildx imagetools inspect` shows SBOM and provenance for every arch; no
 * secret reaches an attestation. Each image's config carries the labels, each list
 * the annotations; publishing again changes nothing. A build on the default engine
 * (no attestations there) says so once and builds without; a dry run's build
 * command shows the labels, SBOM and provenance flags.
 */
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ATTESTATION_MANIFEST, REFERENCE_DIGEST, REFERENCE_TYPE } from "../../../libs/docker/src";
import { createDockerWorkspace, dockerFixture, makeTestBase, makeTestScanner, requireDockerEnvironment, testAlpine, withLogin, type DockerEnvironment } from "../docker";
import { requireFleet, type Fleet } from "../fleet";
import { expectedTags } from "../published";
import type { Workspace } from "../workspace";

let env: DockerEnvironment;
let fleet: Fleet;
let ws: Workspace;
let prefix: string;
let scanner: string;
let published: { all: string; exitCode: number };

const O = "org.opencontainers.image";
const VENDOR = "The OCaml test vendor";
const URL_ = "https://example.org/obi-test";

/** The tags the workspace publishes (the archive left out: it has nothing to build). */
const tags = (): string[] => [...expectedTags(ws).keys()].filter((t) => !t.startsWith("archive")).map((t) => `${prefix}/opam:${t}`);
/** The nx runs build on the fleet's containerd-store engine, whose docker driver makes attestations. */
const runEnv = (): Record<string, string> => ({ DOCKER_HOST: fleet.ociSocket });

interface Descriptor {
  mediaType: string;
  digest: string;
  platform?: { os: string; architecture: string };
  annotations?: Record<string, string>;
}
interface Index {
  mediaType: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

beforeAll(async () => {
  env = requireDockerEnvironment();
  fleet = requireFleet();
  prefix = `${env.registry}/a${Date.now().toString(36)}`;
  await makeTestBase(env, `${prefix}/base/alpine:3.23`);
  scanner = `${prefix}/scanner:1`;
  await makeTestScanner(env, `${prefix}/base/alpine:3.23`, scanner, fleet.ociSocket);
  const alpine = testAlpine(prefix, "alpine-3.23", "3.23", "3.23", { amd64: "", arm64: "" }, { default: true, aliases: ["alpine"] });
  ws = createDockerWorkspace(env, prefix, dockerFixture([alpine], { releases: ["5.4.1"], variants: [] }), {
    imageMetadata: { vendor: VENDOR, url: URL_ },
    attestations: { provenance: "max", sbom: true, sbomGenerator: scanner },
  });
  const run = await ws.nx(["run-many", "-t", "publish", "--exclude=archive", "--outputStyle=static"], runEnv());
  published = { all: run.all, exitCode: run.exitCode };
}, 900_000);

afterAll(() => {
  ws?.dispose();
});

/** `docker buildx imagetools inspect --format` on a tag, logged in, as JSON. */
const inspect = (tag: string, format: string): Promise<Record<string, unknown>> =>
  withLogin(env, async (dockerEnv) => {
    const r = await execa("docker", ["buildx", "imagetools", "inspect", "--format", format, tag], { env: dockerEnv });
    return JSON.parse(r.stdout) as Record<string, unknown>;
  });

/** `skopeo inspect --raw` on a tag, with the test registry's login in an auth file (never in argv). */
const skopeoRaw = (tag: string): Promise<Index> =>
  withLogin(env, async (dockerEnv) => {
    const r = await execa("skopeo", ["inspect", "--raw", "--tls-verify=false", "--authfile", join(dockerEnv.DOCKER_CONFIG ?? "", "config.json"), `docker://${tag}`]);
    return JSON.parse(r.stdout) as Index;
  });

describe("SBOM and provenance, made by BuildKit and kept in every public list, through nx", () => {
  it("builds and publishes the two-arch matrix on the containerd-store engine, with attestations", () => {
    expect(published.exitCode, published.all.slice(-4000)).toBe(0);
    expect(tags().length).toBeGreaterThanOrEqual(2);
    expect(published.all).not.toMatch(/cannot make attestations/);
  });

  it("each staging build is an index of its image and one attestation manifest", async () => {
    for (const arch of ["amd64", "arm64"]) {
      const record = JSON.parse(ws.read(`dist/images/alpine-3.23-ocaml-5.4/build-${arch}.json`)) as { digest: string; stagingTag: string };
      const built = await env.client.imagePlatform(`${record.stagingTag}@${record.digest}`);
      expect(built?.top.mediaType, arch).toBe("application/vnd.oci.image.index.v1+json");
      expect(built?.platform.architecture, arch).toBe(arch);
      expect(built?.attestations, arch).toHaveLength(1);
    }
  });

  it("every public list holds each arch's image and its attestation manifest, as skopeo reads it", async () => {
    for (const tag of tags()) {
      const index = await skopeoRaw(tag);
      expect(index.mediaType, tag).toBe("application/vnd.oci.image.index.v1+json");
      const images = index.manifests.filter((m) => m.annotations?.[REFERENCE_TYPE] !== ATTESTATION_MANIFEST);
      const attestations = index.manifests.filter((m) => m.annotations?.[REFERENCE_TYPE] === ATTESTATION_MANIFEST);
      expect(images.map((m) => m.platform?.architecture).sort(), tag).toEqual(["amd64", "arm64"]);
      expect(attestations, tag).toHaveLength(2);
      for (const a of attestations) {
        expect(a.platform, tag).toEqual({ architecture: "unknown", os: "unknown" });
        expect(images.map((m) => m.digest), tag).toContain(a.annotations?.[REFERENCE_DIGEST]);
      }
      expect(new Set(attestations.map((a) => a.annotations?.[REFERENCE_DIGEST])).size, tag).toBe(2);
    }
  });

  it("docker buildx imagetools inspect shows SBOM (our scanner's) and provenance for every arch of every public tag", async () => {
    for (const tag of tags()) {
      const provenance = await inspect(tag, "{{json .Provenance}}");
      const sbom = await inspect(tag, "{{json .SBOM}}");
      expect(Object.keys(provenance).sort(), tag).toEqual(["linux/amd64", "linux/arm64"]);
      expect(Object.keys(sbom).sort(), tag).toEqual(["linux/amd64", "linux/arm64"]);
      for (const platform of ["linux/amd64", "linux/arm64"]) {
        const slsa = (provenance[platform] as { SLSA?: { buildType?: string } }).SLSA;
        expect(slsa?.buildType, `${tag} ${platform}`).toMatch(/buildkit|slsa/i);
        const spdx = (sbom[platform] as { SPDX?: { name?: string; packages?: { name: string }[] } }).SPDX;
        // Our scanner's document: it read the image's root filesystem.
        expect(spdx?.name, `${tag} ${platform}`).toMatch(/^obi-test-scanner /);
        expect(spdx?.packages?.map((p) => p.name), `${tag} ${platform}`).toEqual(expect.arrayContaining(["bin", "etc"]));
      }
    }
  });

  it("puts no secret in an attestation: neither the registry password nor its login", async () => {
    const password = env.credentials.password;
    const basic = Buffer.from(`${env.username}:${password}`).toString("base64");
    for (const tag of tags()) {
      const text = JSON.stringify(await inspect(tag, "{{json .Provenance}}")) + JSON.stringify(await inspect(tag, "{{json .SBOM}}"));
      expect(text.length, tag).toBeGreaterThan(100);
      expect(text.includes(password), tag).toBe(false);
      expect(text.includes(basic), tag).toBe(false);
      expect(text, tag).not.toMatch(/PRIVATE KEY/);
    }
  });

  it("a builder that cannot make attestations (the default engine's docker driver) says so once and builds without", async () => {
    // A later rebuild period: new build ids, so the build runs on this engine rather than being reused.
    const run = await ws.nx(["run", "alpine-3.23-opam:build-amd64", "--skip-nx-cache", "--outputStyle=static"], { OBI_NOW: "2031-01-01T00:00:00Z" });
    expect(run.exitCode, run.all.slice(-3000)).toBe(0);
    expect(run.all.match(/cannot make attestations .*; building without SBOM and provenance/g)?.length).toBe(1);
    const record = JSON.parse(ws.read("dist/images/alpine-3.23-opam/build-amd64.json")) as { digest: string; stagingTag: string };
    const built = await env.client.imagePlatform(`${record.stagingTag}@${record.digest}`);
    expect(built?.attestations).toHaveLength(0);
  });
});

describe("labels and annotations, through nx", () => {
  it("annotates each public list: what it is, where from, when and from which commit", async () => {
    const head = ws.git("rev-parse", "HEAD");
    for (const tag of tags()) {
      const index = await skopeoRaw(tag);
      expect(index.mediaType, tag).toBe("application/vnd.oci.image.index.v1+json");
      // Each image's entry names its base; its attestation's entry is about the image (checked above).
      const images = index.manifests.filter((m) => m.annotations?.[REFERENCE_TYPE] !== ATTESTATION_MANIFEST);
      expect(images.map((m) => m.platform?.architecture).sort(), tag).toEqual(["amd64", "arm64"]);
      for (const m of images) expect(m.annotations?.[`${O}.base.name`], tag).toBeTruthy();
      const name = tag.slice(tag.lastIndexOf(":") + 1);
      expect(index.annotations, tag).toMatchObject({
        [`${O}.source`]: "https://github.com/ocurrent/docker-base-images",
        [`${O}.licenses`]: "LGPL-2.1-only WITH OCaml-LGPL-linking-exception",
        [`${O}.vendor`]: VENDOR,
        [`${O}.url`]: URL_,
        [`${O}.revision`]: head,
      });
      expect(index.annotations?.[`${O}.created`]).toMatch(/^\d{4}-\d\d-\d\dT/);
      if (name.includes("ocaml-5.4")) expect(index.annotations?.[`${O}.version`], tag).toBe("5.4.1");
    }
  });
  it("labels each image's config: title, description, version, source, licenses, vendor, url, and its base by name and digest", async () => {
    const record = JSON.parse(ws.read("dist/images/alpine-3.23-ocaml-5.4/build-arm64.json")) as { digest: string; stagingTag: string };
    const parent = JSON.parse(ws.read("dist/images/alpine-3.23-opam/build-arm64.json")) as { digest: string; stagingTag: string };
    const built = await env.client.imagePlatform(`${record.stagingTag}@${record.digest}`);
    expect(built?.platform.architecture).toBe("arm64");
    expect(built?.labels).toMatchObject({
      [`${O}.title`]: "alpine-3.23-ocaml-5.4",
      [`${O}.description`]: "OCaml 5.4.1 on alpine-3.23",
      [`${O}.version`]: "5.4.1",
      [`${O}.source`]: "https://github.com/ocurrent/docker-base-images",
      [`${O}.licenses`]: "LGPL-2.1-only WITH OCaml-LGPL-linking-exception",
      [`${O}.vendor`]: VENDOR,
      [`${O}.url`]: URL_,
      [`${O}.base.name`]: parent.stagingTag,
      [`${O}.base.digest`]: parent.digest,
    });
    // Neither the clock nor the commit is in an image: they would make every build a new one.
    expect(Object.keys(built?.labels ?? {})).not.toContain(`${O}.created`);
    expect(Object.keys(built?.labels ?? {})).not.toContain(`${O}.revision`);
  });

  it("changes nothing when published again: same lists, created and all", async () => {
    const before = await Promise.all(tags().map(async (t) => (await env.client.getManifest(t))?.digest));
    const again = await ws.nx(["run-many", "-t", "publish", "--exclude=archive", "--outputStyle=static", "--skip-nx-cache"], runEnv());
    expect(again.exitCode, again.all.slice(-3000)).toBe(0);
    expect(again.all).toMatch(/already lists these images; unchanged/);
    expect(again.all).not.toMatch(/pushing /);
    const after = await Promise.all(tags().map(async (t) => (await env.client.getManifest(t))?.digest));
    expect(after).toEqual(before);
  });
});

describe("a dry run with attestations", () => {
  it("shows the labels, SBOM and provenance flags of each build command", async () => {
    // --verbose: a dry run prints each command whole (else shortened to its first words).
    const run = await ws.nx(["run", "alpine-3.23-ocaml-5.4:build-amd64", "--dryRun", "--verbose", "--skip-nx-cache", "--outputStyle=static"]);
    expect(run.exitCode, run.all.slice(-3000)).toBe(0);
    const line = run.all.split("\n").find((l) => l.includes("alpine-3.23-ocaml-5.4 (amd64): would run: docker buildx build")) ?? "";
    expect(line).toContain(`--provenance=mode=max`);
    expect(line).toContain(`--sbom=generator=${scanner}`);
    expect(line).toMatch(new RegExp(`--label '?${O.replace(/\./g, "\\.")}\\.title=alpine-3\\.23-ocaml-5\\.4'?`));
    expect(line).toMatch(/--label '?org\.opencontainers\.image\.version=5\.4\.1'?/);
    expect(line).toMatch(/--label '?org\.opencontainers\.image\.base\.name=/);
    expect(line).not.toMatch(/org\.opencontainers\.image\.(created|revision)/);
  });
});

