/**
 * Plans and records for status tests that need no Docker: the small matrix of
 * tools/testing/workspace.ts, planned in memory, and records made the way the
 * executors make them.
 */
import { createHash } from "node:crypto";
import { parseMatrix } from "../../libs/matrix/src";
import { makePlan, type Build, type Plan } from "../../libs/plan/src";
import { dryParentStandIn, type DryBuildRecord, type DryPublishRecord, type RealBuildRecord, type RealPublishRecord, type RunRecord } from "../../libs/records/src";
import type { Dated, ImageRecords, StatusInput } from "../../libs/status/src";
import { smallFixture, type Fixture } from "./workspace";

export const REPOSITORIES = { staging: "reg.test/opam-staging", public: "reg.test/opam" } as const;

export function planOf(fixture: Fixture = smallFixture()): { plan: Plan; distros: StatusInput["distros"] } {
  const json = (file: string, value: unknown) => ({ kind: "read" as const, file, text: JSON.stringify(value) });
  const matrix = parseMatrix({
    distros: fixture.distros.map((d) => json(`images/${d.name}/image.json`, d.json)),
    compilers: json("images/compilers.json", fixture.compilers),
    opam: json("images/opam.json", fixture.opam),
    opamRepository: json("images/opam-repository.json", fixture.opamRepository),
  });
  return {
    plan: makePlan(matrix, { repositories: REPOSITORIES, pins: "commit" }),
    distros: matrix.distros.map((d) => ({ name: d.name, title: d.title, family: d.family })),
  };
}

/** A stand-in for the build executor's id: any function of the same inputs serves the model. */
export const fakeBuildId = (build: Build, parentDigest: string | null): string =>
  createHash("sha256").update(`${build.id}\0${build.dockerfile}\0${parentDigest}`).digest("hex");

export const digestOf = (text: string): string => `sha256:${createHash("sha256").update(text).digest("hex")}`;

/** Records under construction, by image. */
export class Records {
  private readonly images = new Map<
    string,
    {
      builds: Map<string, Dated<RealBuildRecord>>;
      buildRuns: Map<string, RunRecord>;
      publish?: Dated<RealPublishRecord>;
      publishRun?: RunRecord;
      dryBuilds: Map<string, Dated<DryBuildRecord>>;
      dryPublish?: Dated<DryPublishRecord>;
    }
  >();

  private of(image: string) {
    let r = this.images.get(image);
    if (!r) this.images.set(image, (r = { builds: new Map(), buildRuns: new Map(), dryBuilds: new Map() }));
    return r;
  }

  /** A build record as the build executor writes it, built FROM a parent of this digest. */
  built(build: Build, at: string, parentDigest: string | null, opts: { reused?: boolean; buildId?: string; stagingRepo?: string } = {}): RealBuildRecord {
    const record: RealBuildRecord = {
      dryRun: false,
      image: build.image,
      arch: build.arch,
      platform: `${build.os}/${build.arch}`,
      stagingRepo: opts.stagingRepo ?? REPOSITORIES.staging,
      stagingTag: build.stagingTag,
      digest: digestOf(`${build.id} ${at}`),
      buildId: opts.buildId ?? fakeBuildId(build, parentDigest),
    };
    this.of(build.image).builds.set(build.arch, { record, at });
    // Whether the registry already had it is the run's to say, as the build executor notes it.
    if (opts.reused !== undefined) {
      const task = `${build.image}:build-${build.arch}`;
      this.of(build.image).buildRuns.set(build.arch, { state: "succeeded", task, startedAt: at, at, reused: opts.reused });
    }
    return record;
  }

  /** A dry run's build record, as the build executor writes it under dist/dry-run/, FROM a dry parent of this build id. */
  dryBuilt(build: Build, at: string, parentBuildId: string | null): DryBuildRecord {
    const record: DryBuildRecord = {
      dryRun: true,
      image: build.image,
      arch: build.arch,
      platform: `${build.os}/${build.arch}`,
      stagingRepo: REPOSITORIES.staging,
      stagingTag: build.stagingTag,
      buildId: fakeBuildId(build, parentBuildId === null ? null : dryParentStandIn(parentBuildId)),
    };
    this.of(build.image).dryBuilds.set(build.arch, { record, at });
    return record;
  }

  /** A dry run's publish record: every tag of the image, its builds named by build-id tag. */
  dryPublished(plan: Plan, imageName: string, at: string): void {
    const image = plan.images.find((i) => i.name === imageName);
    if (!image) throw new Error(`no image ${imageName}`);
    const manifests = image.manifests.map((m) => ({ tag: m.tag, sources: m.sources.map((s) => `${s}-dry`) }));
    this.of(imageName).dryPublish = { record: { dryRun: true, image: imageName, publicRepo: REPOSITORIES.public, manifests }, at };
  }

  buildRun(build: Build, run: RunRecord): void {
    this.of(build.image).buildRuns.set(build.arch, run);
  }

  /** A publish record listing the given builds' current records under each of the image's tags. */
  published(plan: Plan, imageName: string, at: string, publicRepo: string = REPOSITORIES.public): void {
    const image = plan.images.find((i) => i.name === imageName);
    if (!image) throw new Error(`no image ${imageName}`);
    const byTag = new Map(plan.images.flatMap((i) => i.builds.map((b) => [b.stagingTag, b] as const)));
    const manifests = image.manifests.map((m) => ({
      tag: m.tag,
      changed: true,
      digest: digestOf(`${m.tag} ${at}`),
      sources: m.sources.map((s) => {
        const b = byTag.get(s) as Build;
        const digest = this.images.get(b.image)?.builds.get(b.arch)?.record.digest;
        return `${REPOSITORIES.staging}@${digest ?? digestOf("never built")}`;
      }),
    }));
    this.of(imageName).publish = { record: { dryRun: false, image: imageName, publicRepo, manifests }, at };
  }

  publishRun(image: string, run: RunRecord): void {
    this.of(image).publishRun = run;
  }

  get map(): ReadonlyMap<string, ImageRecords> {
    return this.images;
  }
}
