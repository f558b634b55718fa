/**
 * Images that describe themselves, for real, in two parts.
 *
 * BuildKit's attestations, through our build and list code: buildx's docker driver
 * makes them only on an engine with the containerd image store (the fleet's), where
 * Docker 26 fails our opam Dockerfile's `COPY --link --chown=opam:opam` ("invalid
 * user index: -1"); so a tiny two-arch build is made there by buildAndPush with
 * labels, provenance and an SBOM from a scanner image made here (FROM the test
 * base, BuildKit's scanner protocol), and joined by putManifestList. The list is an
 * OCI index of both images and their attestation manifests; `docker buildx imagetools
 * inspect` shows SBOM and provenance for every arch; skopeo reads the same list;
 * no secret reaches an attestation.
 *
 * Labels and annotations, through nx end to end: a two-arch matrix built on the
 * default engine (whose docker driver makes no attestations: said once, built
 * without) and published; each image's config carries the labels, each list the
 * annotations; publishing again changes nothing; a dry run's build command shows
 * the labels, SBOM and provenance flags.
 */
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import {
  ATTESTATION_MANIFEST,
  buildAndPush,
  imageLabels,
  listAnnotations,
  parseReference,
  pinned,
  realRunner,
  REFERENCE_DIGEST,
  REFERENCE_TYPE,
  type ListEntry,
} from "../../../libs/docker/src";
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
/** The nx runs build on the default engine. */
const runEnv = (): Record<string, string> => ({});

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
  await buildWithAttestations();
}, 900_000);

/** The list our writer made of the attested builds. */
let attestedList: string;
const DESCRIPTION = { title: "attested", description: "a tiny attested image", version: "5.4.1", source: "https://github.com/ocurrent/docker-base-images", licenses: "MIT", vendor: VENDOR, url: URL_ };

/** A tiny build per arch on the containerd-store engine, by buildAndPush with attestations, joined by putManifestList. */
async function buildWithAttestations(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "obi-attested-"));
  const base = `${prefix}/base/alpine:3.23`;
  writeFileSync(join(dir, "Dockerfile"), `FROM ${base}\nRUN echo attested > /attested\n`);
  const entries: ListEntry[] = [];
  try {
    await withLogin(env, async (dockerEnv) => {
      for (const arch of ["amd64", "arm64"]) {
        const tag = `${prefix}/attested-staging:${arch}`;
        const digest = await buildAndPush(realRunner(), {
          platform: `linux/${arch}`,
          contextDir: dir,
          dockerfile: join(dir, "Dockerfile"),
          tags: [tag],
          labels: imageLabels(DESCRIPTION, { name: base }),
          attestations: { provenance: "max", sbom: { generator: scanner } },
          env: { ...dockerEnv, DOCKER_HOST: fleet.ociSocket },
        });
        if (!digest) throw new Error(`no digest for ${arch}`);
        entries.push({ source: pinned(parseReference(tag), digest), platform: `linux/${arch}` });
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  attestedList = `${prefix}/attested:1`;
  await env.client.putManifestList(attestedList, entries, listAnnotations(DESCRIPTION, { created: "2026-12-04T00:00:00Z", revision: "0".repeat(40) }));
}

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

describe("attestations, made by BuildKit through buildAndPush and kept by putManifestList", () => {
  it("each build is an index of its image and one attestation manifest", async () => {
    for (const arch of ["amd64", "arm64"]) {
      const built = await env.client.imagePlatform(`${prefix}/attested-staging:${arch}`);
      expect(built?.top.mediaType).toBe("application/vnd.oci.image.index.v1+json");
      expect(built?.platform.architecture).toBe(arch);
      expect(built?.attestations).toHaveLength(1);
      expect(built?.labels[`${O}.title`]).toBe("attested");
      expect(built?.labels[`${O}.base.name`]).toBe(`${prefix}/base/alpine:3.23`);
    }
  });

  it("the list holds both images and their attestation manifests, annotated, as skopeo reads it", async () => {
    const index = await skopeoRaw(attestedList);
    expect(index.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    const images = index.manifests.filter((m) => m.annotations?.[REFERENCE_TYPE] !== ATTESTATION_MANIFEST);
    const attestations = index.manifests.filter((m) => m.annotations?.[REFERENCE_TYPE] === ATTESTATION_MANIFEST);
    expect(images.map((m) => m.platform?.architecture).sort()).toEqual(["amd64", "arm64"]);
    expect(attestations).toHaveLength(2);
    for (const a of attestations) {
      expect(a.platform).toEqual({ architecture: "unknown", os: "unknown" });
      expect(images.map((m) => m.digest)).toContain(a.annotations?.[REFERENCE_DIGEST]);
    }
    expect(new Set(attestations.map((a) => a.annotations?.[REFERENCE_DIGEST])).size).toBe(2);
    for (const m of images) expect(m.annotations?.[`${O}.base.name`]).toBe(`${prefix}/base/alpine:3.23`);
    expect(index.annotations).toMatchObject({ [`${O}.title`]: "attested", [`${O}.version`]: "5.4.1", [`${O}.vendor`]: VENDOR, [`${O}.revision`]: "0".repeat(40) });
  });

  it("docker buildx imagetools inspect shows SBOM (our scanner's) and provenance for every arch", async () => {
    const provenance = await inspect(attestedList, "{{json .Provenance}}");
    const sbom = await inspect(attestedList, "{{json .SBOM}}");
    expect(Object.keys(provenance).sort()).toEqual(["linux/amd64", "linux/arm64"]);
    expect(Object.keys(sbom).sort()).toEqual(["linux/amd64", "linux/arm64"]);
    for (const platform of ["linux/amd64", "linux/arm64"]) {
      const slsa = (provenance[platform] as { SLSA?: { buildType?: string } }).SLSA;
      expect(slsa?.buildType, platform).toMatch(/buildkit|slsa/i);
      const spdx = (sbom[platform] as { SPDX?: { name?: string; packages?: { name: string }[] } }).SPDX;
      // Our scanner's document: it read the image's root filesystem.
      expect(spdx?.name, platform).toMatch(/^obi-test-scanner /);
      expect(spdx?.packages?.map((p) => p.name), platform).toEqual(expect.arrayContaining(["attested", "bin", "etc"]));
    }
  });

  it("puts no secret in an attestation: neither the registry password nor its login", async () => {
    const password = env.credentials.password;
    const basic = Buffer.from(`${env.username}:${password}`).toString("base64");
    const text = JSON.stringify(await inspect(attestedList, "{{json .Provenance}}")) + JSON.stringify(await inspect(attestedList, "{{json .SBOM}}"));
    expect(text.length).toBeGreaterThan(100);
    expect(text.includes(password)).toBe(false);
    expect(text.includes(basic)).toBe(false);
    expect(text).not.toMatch(/PRIVATE KEY/);
  });
});

describe("labels and annotations, through nx", () => {
  it("builds and publishes the two-arch matrix; the default builder's docker driver makes no attestations, said once", () => {
    expect(published.exitCode, published.all.slice(-4000)).toBe(0);
    expect(tags().length).toBeGreaterThanOrEqual(2);
    expect(published.all.match(/cannot make attestations .*; building without SBOM and provenance/g)?.length).toBe(1);
  });

  it("annotates each public list: what it is, where from, when and from which commit", async () => {
    const head = ws.git("rev-parse", "HEAD");
    for (const tag of tags()) {
      const index = await skopeoRaw(tag);
      expect(index.mediaType, tag).toBe("application/vnd.oci.image.index.v1+json");
      expect(index.manifests.map((m) => m.platform?.architecture).sort(), tag).toEqual(["amd64", "arm64"]);
      for (const m of index.manifests) expect(m.annotations?.[`${O}.base.name`], tag).toBeTruthy();
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
    const run = await ws.nx(["run", "alpine-3.23-ocaml-5.4:build-amd64", "--dryRun", "--skip-nx-cache", "--outputStyle=static"]);
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

