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
 * - not built: none of these.
 */
import type { Build, Image, Plan } from "../../plan/src";
import type { Dated, ImageRecords, RunOwner, RunRecord, StoredBuildRecord, StoredPublishRecord } from "./records";
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
  /** The build id a build would get now, built FROM a parent of this digest (null: no parent, or a dry run). */
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
const infoOf = (dated: Dated<StoredBuildRecord>, run: RunRecord | undefined): BuildInfo => ({
  buildId: dated.record.buildId,
  digest: dated.record.digest,
  stagingTag: dated.record.stagingTag,
  builtAt: dated.at,
  reused: run?.state === "succeeded" && run.reused === true,
  dryRun: dated.record.dryRun,
});

/** The time a run record speaks for. */
const runTime = (run: RunRecord): string => run.at;

/** Whether each build's record matches the inputs it would have now (undefined: no record, or not knowable). */
function currentness(input: StatusInput): Map<string, boolean | undefined> {
  const byId = new Map(input.plan.images.flatMap((i) => i.builds.map((b) => [b.id, b] as const)));
  const recordOf = (b: Build) => input.records.get(b.image)?.builds.get(b.arch);
  const result = new Map<string, boolean | undefined>();
  const judge = (b: Build): boolean | undefined => {
    if (result.has(b.id)) return result.get(b.id);
    const record = recordOf(b);
    let current: boolean | undefined;
    if (record) {
      const parent = b.parent === undefined ? undefined : byId.get(b.parent);
      const parentRecord = parent ? recordOf(parent) : undefined;
      // Without its parent's record the id it would get cannot be known; it is not called stale.
      current = parent && !parentRecord ? undefined : record.record.buildId === input.buildIdOf(b, parentRecord?.record.digest ?? null);
    }
    result.set(b.id, current);
    return current;
  };
  for (const b of byId.values()) judge(b);
  return result;
}

function buildState(
  build: Build,
  records: ImageRecords | undefined,
  current: boolean | undefined,
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
  if (!info) return { state: "not-built", note: null };
  if (current === false) {
    return { state: "stale", build: info, reason: "its Dockerfile, context, parent image or rebuild period changed since it was built" };
  }
  const tags = info.digest ? publishedIn(info.digest) : [];
  if (tags.length > 0) return { state: "published", build: info, tags };
  return info.reused ? { state: "reused", build: info } : { state: "built", build: info };
}

function publishState(
  image: Image,
  records: ImageRecords | undefined,
  digestOfStaging: (stagingTag: string) => string | null | undefined,
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
  if (!dated) return { state: "not-published", note: null };
  const tags = publishedTags(dated.record, archOfDigest);
  const stale = staleManifest(image, dated.record, digestOfStaging);
  return stale
    ? { state: "stale", publishedAt: dated.at, tags, reason: stale }
    : { state: "published", publishedAt: dated.at, tags };
}

const digestOfSource = (source: string): string => source.slice(source.lastIndexOf("@") + 1);

function publishedTags(record: StoredPublishRecord, archOfDigest: (digest: string) => string | null): PublishedTag[] {
  return record.manifests.map((m) => ({
    tag: m.tag,
    digest: m.digest ?? null,
    arches: m.sources.map((s) => ({ arch: archOfDigest(digestOfSource(s)), digest: digestOfSource(s) })),
  }));
}

/** Why the publish record no longer matches the builds it should list, or undefined when it does. */
function staleManifest(image: Image, record: StoredPublishRecord, digestOfStaging: (stagingTag: string) => string | null | undefined): string | undefined {
  // The record names each tag as the publish wrote it; the tag's own name is what follows the last colon.
  const published = new Map(record.manifests.map((m) => [m.tag.slice(m.tag.lastIndexOf(":") + 1), m]));
  for (const manifest of image.manifests) {
    const was = published.get(manifest.name);
    if (!was) return `${manifest.tag} is not in the publish record`;
    const want = manifest.sources.map((s) => digestOfStaging(s));
    if (want.some((d) => d === undefined)) return `a build of ${manifest.tag} has no record`;
    const have = new Set(was.sources.map(digestOfSource));
    if (want.length !== have.size || !want.every((d) => have.has(d ?? "<dry-run>"))) return `the builds of ${manifest.tag} changed since it was published`;
  }
  return undefined;
}

const zeroCounts = <T extends string>(names: readonly T[]): Record<T, number> =>
  Object.fromEntries(names.map((n) => [n, 0])) as Record<T, number>;

/** The state of every build and publish of the plan. */
export function makeStatus(input: StatusInput): StatusDocument {
  const { plan } = input;
  const current = currentness(input);
  const allBuilds = plan.images.flatMap((i) => i.builds);
  const recordOf = (b: Build) => input.records.get(b.image)?.builds.get(b.arch);
  const byStaging = new Map(allBuilds.map((b) => [b.stagingTag, b]));
  const archByDigest = new Map<string, string>();
  for (const b of allBuilds) {
    const digest = recordOf(b)?.record.digest;
    if (digest) archByDigest.set(digest, b.arch);
  }
  const digestOfStaging = (tag: string): string | null | undefined => {
    const b = byStaging.get(tag);
    return b ? recordOf(b)?.record.digest : undefined;
  };
  const archOfDigest = (digest: string) => archByDigest.get(digest) ?? null;

  const buildCounts = zeroCounts<BuildStateName>(BUILD_STATES);
  const publishCounts = zeroCounts<PublishStateName>(PUBLISH_STATES);
  const tags: StatusDocument["tags"] = [];
  const staging: StatusDocument["staging"] = [];

  const images = plan.images.map((image): StatusDocument["images"][number] => {
    const records = input.records.get(image.name);
    const publish = publishState(image, records, digestOfStaging, archOfDigest, input.runnerGone);
    const publishedIn = (digest: string): string[] =>
      publish.state === "published" ? publish.tags.filter((t) => t.arches.some((a) => a.digest === digest)).map((t) => t.tag) : [];
    const builds = image.builds.map((b) => {
      const status = buildState(b, records, current.get(b.id), publishedIn, input.runnerGone);
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
