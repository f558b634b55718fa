/**
 * The status model: one pure function from the plan and the records runs left
 * to the state of every image × arch and every image's publish. No I/O: the
 * records are read at the edge (tools/nx-plugin/src/executors/status.ts).
 *
 * A build is
 * - queued / building: its run record says so and is newer than its build record;
 * - failed: its last run failed, and no build record matches its current inputs;
 * - stale: it has a build record whose build id is not the id it would get now
 *   (its Dockerfile, context, parent's digest or rebuild period moved), so the
 *   next run builds it again;
 * - published: current, and its image's publish record lists its digest;
 * - reused: current, taken from the registry by build id; built: current, built here;
 * - would build: none of these, but a dry run's record (dist/dry-run/) matches its current inputs;
 * - not built: none of these.
 * Records count for the repositories they were made for: a build record of
 * another staging repository, or a publish record of another public one, is
 * read as absent. A dry run's records never make a build built, reused,
 * published, stale or failed.
 */
import { tryParseReference } from "../../docker/src/reference";
import { dryParentStandIn, type RealBuildRecord, type RealPublishRecord, type RunOwner, type RunRecord } from "../../records/src";
import type { Build, Image, Plan } from "../../plan/src";
import type { Dated, ImageRecords } from "./records";
import {
  BUILD_STATES,
  PUBLISH_STATES,
  type BuildState,
  type BuildStateName,
  type PublishState,
  type PublishStateName,
  type StatusDocument,
} from "./schema";

export interface DistroInfo {
  readonly name: string;
  readonly title: string;
  readonly family: string | null;
}

export interface StatusInput {
  readonly plan: Plan;
  readonly repositories: { readonly staging: string; readonly public: string };
  /** The declared distros (titles come from their image.json); groups without one are titled by name. */
  readonly distros: readonly DistroInfo[];
  /** What dist/ holds, by image name. */
  readonly records: ReadonlyMap<string, ImageRecords>;
  /** The build id a build would get now, built FROM a parent of this digest (or a dry parent's stand-in; null: no parent). */
  readonly buildIdOf: (build: Build, parentDigest: string | null) => string;
  readonly generatedAt: string;
  /** Whether the process a queued or running record names is known to be gone (the edge asks the OS); absent: never. */
  readonly runnerGone?: (runner: RunOwner) => boolean;
}

/** A queued or running record whose process is gone: the task was interrupted and is not running. */
function interrupted(run: RunRecord, gone: ((runner: RunOwner) => boolean) | undefined): { startedAt: string; failedAt: string; message: string; logTail: string[] } | undefined {
  if ((run.state !== "queued" && run.state !== "running") || !run.runner || !gone?.(run.runner)) return undefined;
  const { host, pid } = run.runner;
  return {
    startedAt: run.at,
    failedAt: run.at,
    message: `interrupted: the run that ${run.state === "queued" ? "queued" : "started"} it (pid ${pid} on ${host}) is gone; run it again`,
    logTail: [],
  };
}

type BuildInfo = Extract<BuildState, { state: "built" }>["build"];
type PublishedTag = Extract<PublishState, { state: "published" }>["tags"][number];

export const rerunBuild = (image: string, arch: string): string => `npx nx run ${image}:build-${arch}`;
export const rerunPublish = (image: string): string => `npx nx run ${image}:publish`;

/** A build's facts: its record says what it made; its run record, when it succeeded, whether the registry already had it. */
const infoOf = (dated: Dated<RealBuildRecord>, run: RunRecord | undefined): BuildInfo => ({
  buildId: dated.record.buildId,
  digest: dated.record.digest,
  stagingTag: dated.record.stagingTag,
  builtAt: dated.at,
  reused: run?.state === "succeeded" && run.reused === true,
});

/**
 * The records that count for the configured repositories: build records of
 * the staging repository, publish records of the public one. The others are
 * left out, with a note for the builds and publishes they would have spoken for.
 */
function forRepositories(input: StatusInput): { records: Map<string, ImageRecords>; notes: Map<string, string> } {
  const records = new Map<string, ImageRecords>();
  const notes = new Map<string, string>();
  const { staging, public: publicRepo } = input.repositories;
  for (const [image, r] of input.records) {
    const keep = <T extends { stagingRepo: string }>(map: ReadonlyMap<string, Dated<T>> | undefined, dry: boolean) =>
      new Map(
        [...(map ?? [])].filter(([arch, d]) => {
          if (d.record.stagingRepo === staging) return true;
          if (!dry) notes.set(`${image}/${arch}`, `its record is of a build for ${d.record.stagingRepo}, not ${staging}`);
          return false;
        }),
      );
    const publish = r.publish && r.publish.record.publicRepo === publicRepo ? r.publish : undefined;
    if (r.publish && !publish) notes.set(`${image}/manifests`, `its record is of tags in ${r.publish.record.publicRepo}, not ${publicRepo}`);
    const dryPublish = r.dryPublish && r.dryPublish.record.publicRepo === publicRepo ? r.dryPublish : undefined;
    records.set(image, {
      builds: keep(r.builds, false),
      buildRuns: r.buildRuns,
      dryBuilds: keep(r.dryBuilds, true),
      ...(publish ? { publish } : {}),
      ...(r.publishRun ? { publishRun: r.publishRun } : {}),
      ...(dryPublish ? { dryPublish } : {}),
    });
  }
  return { records, notes };
}

/** The time a run record speaks for. */
const runTime = (run: RunRecord): string => run.at;

/**
 * Whether each build's record matches the inputs it would have now (undefined:
 * no record, or not knowable), for the real records or for a dry run's, whose
 * children follow their parent's build id instead of a digest.
 */
function currentness(input: StatusInput, records: ReadonlyMap<string, ImageRecords>, dry: boolean): Map<string, boolean | undefined> {
  const byId = new Map(input.plan.images.flatMap((i) => i.builds.map((b) => [b.id, b] as const)));
  const recordOf = (b: Build): { buildId: string; parentDigest: string } | undefined => {
    const r = records.get(b.image);
    if (dry) {
      const d = r?.dryBuilds?.get(b.arch)?.record;
      return d ? { buildId: d.buildId, parentDigest: dryParentStandIn(d.buildId) } : undefined;
    }
    const d = r?.builds.get(b.arch)?.record;
    return d ? { buildId: d.buildId, parentDigest: d.digest } : undefined;
  };
  const result = new Map<string, boolean | undefined>();
  for (const b of byId.values()) {
    const record = recordOf(b);
    let current: boolean | undefined;
    if (record) {
      const parent = b.parent === undefined ? undefined : byId.get(b.parent);
      const parentRecord = parent ? recordOf(parent) : undefined;
      // Without its parent's record the id it would get cannot be known; it is not called stale.
      current = parent && !parentRecord ? undefined : record.buildId === input.buildIdOf(b, parentRecord?.parentDigest ?? null);
    }
    result.set(b.id, current);
  }
  return result;
}

function buildState(
  build: Build,
  records: ImageRecords | undefined,
  current: boolean | undefined,
  dryCurrent: boolean | undefined,
  note: string | undefined,
  publishedIn: (digest: string) => string[],
  gone?: (runner: RunOwner) => boolean,
): BuildState {
  const dated = records?.builds.get(build.arch);
  const run = records?.buildRuns.get(build.arch);
  const info = dated ? infoOf(dated, run) : null;
  const runIsNewer = run !== undefined && (!dated || runTime(run) >= dated.at);
  if (run && runIsNewer) {
    const cut = interrupted(run, gone);
    if (cut) return { state: "failed", failure: cut, previous: info };
    if (run.state === "queued") return { state: "queued", since: run.at, previous: info };
    if (run.state === "running") return { state: "building", since: run.at, previous: info };
    // A record that matches the current inputs outweighs a failure: that build exists.
    if (run.state === "failed" && current !== true) {
      return { state: "failed", failure: { startedAt: run.startedAt, failedAt: run.at, message: run.message, logTail: run.logTail }, previous: info };
    }
    if (run.state === "skipped" && !info) return { state: "not-built", note: run.reason };
  }
  if (!info) {
    // Only where nothing real speaks: what a dry run said it would build, while its inputs hold.
    const dry = records?.dryBuilds?.get(build.arch);
    if (dry && dryCurrent !== false) return { state: "would-build", buildId: dry.record.buildId, stagingTag: dry.record.stagingTag, plannedAt: dry.at };
    return { state: "not-built", note: note ?? null };
  }
  if (current === false) {
    return { state: "stale", build: info, reason: "its Dockerfile, context, parent image or rebuild period changed since it was built" };
  }
  const tags = publishedIn(info.digest);
  if (tags.length > 0) return { state: "published", build: info, tags };
  return info.reused ? { state: "reused", build: info } : { state: "built", build: info };
}

function publishState(
  image: Image,
  records: ImageRecords | undefined,
  note: string | undefined,
  digestOfStaging: (stagingTag: string) => string | undefined,
  archOfDigest: (digest: string) => string | null,
  gone?: (runner: RunOwner) => boolean,
): PublishState {
  const dated = records?.publish;
  const run = records?.publishRun;
  if (run && (!dated || runTime(run) >= dated.at)) {
    const cut = interrupted(run, gone);
    if (cut) return { state: "failed", failure: cut };
    if (run.state === "queued") return { state: "queued", since: run.at };
    if (run.state === "running") return { state: "publishing", since: run.at };
    if (run.state === "failed") return { state: "failed", failure: { startedAt: run.startedAt, failedAt: run.at, message: run.message, logTail: run.logTail } };
    if (run.state === "skipped" && !dated) return { state: "not-published", note: run.reason };
  }
  if (!dated) {
    // What a dry run said it would push, while the plan gives the image the same tags.
    const dry = records?.dryPublish;
    const planned = image.manifests.map((m) => m.tag).sort();
    const would = dry?.record.manifests.map((m) => m.tag).sort();
    if (dry && would && JSON.stringify(would) === JSON.stringify(planned)) return { state: "would-publish", plannedAt: dry.at, tags: would };
    return { state: "not-published", note: note ?? null };
  }
  const tags = publishedTags(dated.record, archOfDigest);
  const stale = staleManifest(image, dated.record, digestOfStaging);
  return stale
    ? { state: "stale", publishedAt: dated.at, tags, reason: stale }
    : { state: "published", publishedAt: dated.at, tags };
}

/** The digest a publish record's source names; a dry run's source (a build-id tag) stands for itself. */
const digestOfSource = (source: string): string => tryParseReference(source)?.digest ?? source;

function publishedTags(record: RealPublishRecord, archOfDigest: (digest: string) => string | null): PublishedTag[] {
  return record.manifests.map((m) => ({
    tag: m.tag,
    digest: m.digest,
    arches: m.sources.map((s) => ({ arch: archOfDigest(digestOfSource(s)), digest: digestOfSource(s) })),
  }));
}

/** Why the publish record no longer matches the builds it should list, or undefined when it does. */
function staleManifest(image: Image, record: RealPublishRecord, digestOfStaging: (stagingTag: string) => string | undefined): string | undefined {
  // The record names each tag as the publish wrote it, a reference whose tag is the name.
  const published = new Map(record.manifests.map((m) => [tryParseReference(m.tag)?.tag ?? m.tag, m]));
  for (const manifest of image.manifests) {
    const was = published.get(manifest.name);
    if (!was) return `${manifest.tag} is not in the publish record`;
    const want = manifest.sources.map((s) => digestOfStaging(s));
    if (want.some((d) => d === undefined)) return `a build of ${manifest.tag} has no record`;
    const have = new Set(was.sources.map(digestOfSource));
    if (want.length !== have.size || !want.every((d) => d !== undefined && have.has(d))) return `the builds of ${manifest.tag} changed since it was published`;
  }
  return undefined;
}

const zeroCounts = <T extends string>(names: readonly T[]): Record<T, number> =>
  Object.fromEntries(names.map((n) => [n, 0])) as Record<T, number>;

/** The state of every build and publish of the plan. */
export function makeStatus(input: StatusInput): StatusDocument {
  const { plan } = input;
  const { records: counted, notes } = forRepositories(input);
  const current = currentness(input, counted, false);
  const dryCurrent = currentness(input, counted, true);
  const allBuilds = plan.images.flatMap((i) => i.builds);
  const recordOf = (b: Build): Dated<RealBuildRecord> | undefined => counted.get(b.image)?.builds.get(b.arch);
  const byStaging = new Map(allBuilds.map((b) => [b.stagingTag, b]));
  const archByDigest = new Map<string, string>();
  for (const b of allBuilds) {
    const digest = recordOf(b)?.record.digest;
    if (digest) archByDigest.set(digest, b.arch);
  }
  const digestOfStaging = (tag: string): string | undefined => {
    const b = byStaging.get(tag);
    return b ? recordOf(b)?.record.digest : undefined;
  };
  const archOfDigest = (digest: string) => archByDigest.get(digest) ?? null;

  const buildCounts = zeroCounts<BuildStateName>(BUILD_STATES);
  const publishCounts = zeroCounts<PublishStateName>(PUBLISH_STATES);
  const tags: StatusDocument["tags"] = [];
  const staging: StatusDocument["staging"] = [];

  const images = plan.images.map((image): StatusDocument["images"][number] => {
    const records = counted.get(image.name);
    const publish = publishState(image, records, notes.get(`${image.name}/manifests`), digestOfStaging, archOfDigest, input.runnerGone);
    const publishedIn = (digest: string): string[] =>
      publish.state === "published" ? publish.tags.filter((t) => t.arches.some((a) => a.digest === digest)).map((t) => t.tag) : [];
    const builds = image.builds.map((b) => {
      const status = buildState(b, records, current.get(b.id), dryCurrent.get(b.id), notes.get(b.id), publishedIn, input.runnerGone);
      buildCounts[status.state]++;
      const dated = recordOf(b);
      if (dated) staging.push({ ...infoOf(dated, records?.buildRuns.get(b.arch)), image: image.name, arch: b.arch, current: current.get(b.id) !== false });
      return { arch: b.arch, platform: `${b.os}/${b.arch}`, stagingTag: b.stagingTag, rerun: rerunBuild(image.name, b.arch), status };
    });
    publishCounts[publish.state]++;
    const dated = records?.publish;
    if (dated) {
      for (const t of publishedTags(dated.record, archOfDigest)) {
        tags.push({ ...t, image: image.name, publishedAt: dated.at, current: publish.state === "published" });
      }
    }
    return {
      name: image.name,
      kind: image.kind,
      distro: image.distro,
      compiler: image.compiler ?? null,
      builds,
      publish: { tags: image.manifests.map((m) => m.tag), rerun: rerunPublish(image.name), status: publish },
    };
  });

  const titles = new Map(input.distros.map((d) => [d.name, d]));
  const groups = [...new Set(plan.images.map((i) => i.distro))].map((name) => titles.get(name) ?? { name, title: name, family: null });
  return {
    version: 1,
    generatedAt: input.generatedAt,
    repositories: { staging: input.repositories.staging, public: input.repositories.public },
    counts: { builds: buildCounts, publishes: publishCounts },
    distros: groups.map((g) => ({ name: g.name, title: g.title, family: g.family })),
    images,
    tags,
    staging,
  };
}
