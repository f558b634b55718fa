/**
 * build-<arch>: builds one image for one arch with docker buildx and pushes it
 * to the staging repository, under its tag and under its build id. The
 * registry is a cache: a build whose id the staging repository already holds
 * is not built again, its digest is reused.
 */
import { existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AttestationsUnsupported,
  buildAndPush,
  describedAs,
  imageLabels,
  NO_ATTESTATIONS,
  BuilderError,
  buildIdTag,
  buildxArgsFor,
  checkoutPinned,
  classicBuildAndPush,
  CommandError,
  connectBuilder,
  dryRunner,
  formatReference,
  inspectBuilder,
  offersPlatform,
  ownedDir,
  parseReference,
  pinned,
  platformText,
  repositoryText,
  samePlatform,
  shortBuildRef,
  tagIn,
  withMachineLock,
  type BuilderFacts,
  type Attestations,
  type BuildRequest,
  type ImageBase,
  type Runner,
} from "../../../../libs/docker/src";
import {
  buildId,
  DIST_LAYOUT,
  dockerfileAsBuilt,
  dryParentStandIn,
  REDO,
  renderedContextSchema,
  type BuildRecord,
  type RecordMode,
  type RenderedContext,
} from "../../../../libs/records/src";
import { builderKeyOf } from "../builders";
import { ENV } from "../config";
import { resolveBuilder, resolveSettings, type ResolvedBuilder, type Settings } from "../settings";
import type { Placement } from "./batch";
import { buildKindOf, estimatedMinutes } from "./durations";
import type { TaskLog } from "./batch";
import { trackedExecutorOf } from "./records";
import { openSession, readBuildRecord, readRecord, readText, writeRecord, type Session } from "./shared";
import { failureLine, parseOptions, type BuildOptions } from "./options";

export type { BuildOptions };

/** What a build is, worked out from the rendered files and the parent's record before anything runs. */
interface PreparedBuild {
  readonly label: string;
  readonly platform: string;
  readonly dockerfile: string;
  readonly rendered: RenderedContext;
  readonly id: string;
  readonly repo: string;
  readonly stagingTag: string;
  readonly idTag: string;
  /** The id tag as a line shows it: 12 hex digits (--verbose shows the whole). */
  readonly shortIdTag: string;
  /** The builder it runs on. */
  readonly builder: ResolvedBuilder;
  /** BuildKit (`docker buildx build`), or the classic builder for Windows engines, which have no BuildKit. */
  readonly engine: "buildkit" | "classic";
  /** Its config's labels (org.opencontainers.image.*). */
  readonly labels: Readonly<Record<string, string>>;
  /** The attestations asked for (the classic builder makes none). */
  readonly attestations: Attestations;
  /** The build it starts FROM, as its record says: BuildKit builds pin the FROM tag to that digest. */
  readonly parent?: { readonly label: string; readonly stagingTag: string; readonly pinned: string; readonly task: string };
}

function prepare(options: BuildOptions, settings: Settings, root: string): PreparedBuild {
  const label = `${options.image} (${options.arch})`;
  const platform = `${options.os}/${options.arch}`;
  const dockerfile = dockerfileAsBuilt(readText(root, DIST_LAYOUT.dockerfile(options.image, options.arch), REDO.render(options.image)), Boolean(options.builtinFrontend));
  const rendered = readRecord(root, DIST_LAYOUT.context(options.image), renderedContextSchema, REDO.render(options.image));
  const mode: RecordMode = settings.dryRun ? "dry" : "real";
  const parent = options.parent ? readBuildRecord(root, mode, options.parent.image, options.parent.arch) : undefined;
  // A dry parent has no digest yet: its build id stands in, so a dry child still follows its parent.
  const parentDigest = parent ? (parent.dryRun ? dryParentStandIn(parent.buildId) : parent.digest) : null;
  // What it starts FROM: its parent's staging image, or the distro's base image (pinned when the render pins it).
  const base: ImageBase | undefined = parent
    ? { name: parent.stagingTag, ...(parent.dryRun ? {} : { digest: parent.digest }) }
    : rendered.kind === "opam-repository" && rendered.base
      ? { name: `${rendered.base.image}:${rendered.base.tag}`, ...(rendered.base.digest ? { digest: rendered.base.digest } : {}) }
      : undefined;
  const id = buildId({ platform, dockerfile, context: rendered, parentDigest, period: settings.rebuildPeriod, labels: settings.description ? describedAs(settings.description) : {} });
  return {
    label,
    platform,
    dockerfile,
    rendered,
    id,
    repo: repositoryText(settings.staging),
    stagingTag: tagIn(settings.staging, options.tag),
    idTag: tagIn(settings.staging, buildIdTag(id)),
    shortIdTag: shortBuildRef(settings.staging, id),
    // The settings resolve it for every task with an arch, which a build always has.
    builder: settings.builder ?? resolveBuilder(options),
    engine: options.os === "windows" ? "classic" : "buildkit",
    labels: settings.description ? imageLabels(settings.description, base) : {},
    attestations: settings.attestations,
    ...(options.parent && parent && !parent.dryRun
      ? {
          parent: {
            label: `${options.parent.image} (${options.parent.arch})`,
            stagingTag: parent.stagingTag,
            pinned: formatReference(pinned(parseReference(parent.stagingTag), parent.digest)),
            task: `${options.parent.image}:build-${options.parent.arch}`,
          },
        }
      : {}),
  };
}

/**
 * What each builder said when first asked in this process, so a builder that
 * cannot be reached fails every build on it at once instead of one dial each.
 */
const facts = new Map<string, Promise<BuilderFacts>>();

/** Asks the builder what it builds (once per process), and refuses a platform it does not build. */
/** A builder that did not answer: the run record says so, and /metrics counts it per builder. */
class UnreachableBuilder extends BuilderError {}

async function checkBuilder(build: PreparedBuild, runner: Runner, env: Readonly<Record<string, string>>, log: TaskLog, again = false): Promise<BuilderFacts> {
  const key = `${build.engine} ${build.builder.queue}`;
  let known = facts.get(key);
  if (!known || again) {
    known = inspectBuilder(runner, build.builder.spec, { env, buildxArgs: buildxArgsFor(build.builder.spec), close: () => {} }, build.engine, {}, (line) => log.say(`${build.label}: ${line}`));
    facts.set(key, known);
  }
  let offered: BuilderFacts;
  try {
    offered = await known;
  } catch (e) {
    throw new UnreachableBuilder(`${build.builder.label} cannot be reached: ${(e as Error).message}`);
  }
  if (!offersPlatform(offered.platforms, build.platform)) {
    throw new BuilderError(`${build.builder.label} does not build ${build.platform}; it builds ${offered.platforms.join(", ")}`);
  }
  return offered;
}


/** Builders (by queue) found unable to make attestations in this process: said once, then built without. */
const withoutAttestations = new Set<string>();

/** Says once per builder that it cannot make attestations; this build and the next on it go without. */
function cannotAttest(build: PreparedBuild, log: TaskLog, why: string): void {
  const asked = build.attestations.provenance !== "off" || build.attestations.sbom !== "off";
  const key = `${build.engine} ${build.builder.queue}`;
  if (asked && !withoutAttestations.has(key)) log.say(`${build.builder.label}: ${why}; building without SBOM and provenance`);
  withoutAttestations.add(key);
}

/** The attestations a build asks its builder for: none from the classic builder or one found unable. */
function attestationsFor(build: PreparedBuild, log: TaskLog): Attestations {
  const asked = build.attestations.provenance !== "off" || build.attestations.sbom !== "off";
  if (!asked) return NO_ATTESTATIONS;
  const key = `${build.engine} ${build.builder.queue}`;
  if (build.engine === "classic" && !withoutAttestations.has(key)) {
    withoutAttestations.add(key);
    log.say(`${build.builder.label}: the classic builder (Windows) makes no SBOM or provenance; its images are published without attestations`);
  }
  return withoutAttestations.has(key) ? NO_ATTESTATIONS : build.attestations;
}

/** The `docker buildx build` request for a prepared build in a context folder. */
function buildRequest(build: PreparedBuild, contextDir: string, env: Readonly<Record<string, string>>, log: TaskLog): BuildRequest {
  const { rendered } = build;
  return {
    labels: build.labels,
    attestations: attestationsFor(build, log),
    builderArgs: buildxArgsFor(build.builder.spec),
    platform: build.platform,
    contextDir,
    dockerfile: join(contextDir, "Dockerfile"),
    tags: [build.stagingTag, build.idTag],
    buildContexts: {
      ...(rendered.base?.digest
        ? { [`${rendered.base.image}:${rendered.base.tag}`]: `docker-image://${rendered.base.image}@${rendered.base.digest}` }
        : {}),
      // FROM the parent its record names, not whatever its staging tag says now (another run may have moved it).
      // The classic builder (Windows) has no build contexts: its FROM is the tag, checked against the record below.
      ...(build.parent && build.engine === "buildkit" ? { [build.parent.stagingTag]: `docker-image://${build.parent.pinned}` } : {}),
    },
    env,
    onOutput: (line) => log.progress(`${build.label} | ${line}`),
  };
}

/**
 * A dry run: says what would be built and pushed; touches neither docker, the registry nor any secret.
 * Its lines name the image/arch and a short build id; with `--verbose`, each command whole.
 */
async function describeBuild(build: PreparedBuild, log: TaskLog, verbose: boolean): Promise<void> {
  log.say(`${build.label}: would build ${build.stagingTag} for ${build.platform} on ${build.builder.label} (build ${build.id.slice(0, 12)}), unless ${build.repo} already holds that build`);
  const { spec } = build.builder;
  // The key files are not read in a dry run; the line says what a real run would do with them.
  if (spec.kind === "ssh") log.say(`${build.label}: would connect with DOCKER_HOST=${spec.host}, through ssh with the key in ${spec.keyFile} and the host keys in ${spec.knownHostsFile}`);
  if (spec.kind === "tls") log.say(`${build.label}: would connect with DOCKER_HOST=${spec.host}, DOCKER_TLS_VERIFY=1, with the CA, certificate and key in ${spec.caFile}, ${spec.certFile}, ${spec.keyFile}`);
  if (spec.kind === "context") log.say(`${build.label}: would connect with DOCKER_CONTEXT=${spec.name}`);
  if (build.rendered.kind === "opam-repository") log.say(`${build.label}: would check out ${build.rendered.url} at ${build.rendered.commit}`);
  const runner = dryRunner((line) => log.say(`${build.label}: ${line}`), verbose ? "whole" : "short");
  const request = buildRequest(build, "<context>", {}, log);
  await (build.engine === "classic" ? classicBuildAndPush(runner, request) : buildAndPush(runner, request));
  log.say(`${build.label}: would push ${build.stagingTag} and ${verbose ? build.idTag : build.shortIdTag}`);
}

/**
 * A real build: reuses the registry's copy of this build id, or builds and pushes it.
 * Runs on this machine that build the same id one at a time: the second finds the first's push.
 */
function realBuild(build: PreparedBuild, session: Session, log: TaskLog): Promise<{ digest: string; reused: boolean }> {
  const waiting = (owner: { pid: number }) => log.say(`${build.label}: another run (pid ${owner.pid}) is building ${build.idTag}; waiting for it`);
  return withMachineLock(build.idTag, waiting, () => buildOrReuse(build, session, log));
}

async function buildOrReuse(build: PreparedBuild, session: Session, log: TaskLog): Promise<{ digest: string; reused: boolean }> {
  // Read by digest-checked requests, config included: a registry or proxy that answers with another image is refused.
  let cached = await session.registry.imagePlatform(build.idTag);
  if (cached) {
    // The tag can outlive its blobs (a deleted layer, a garbage collection): such a build is built again, whole.
    const missing = await session.registry.missingBlobsOf(build.idTag, cached);
    if (missing.length > 0) {
      log.say(`${build.label}: build ${build.id.slice(0, 12)} is in ${build.repo}, but ${missing.length === 1 ? "a blob of it is" : `${missing.length} blobs of it are`} missing (${missing.map((d) => d.slice(0, 19)).join(", ")}); building it again`);
      cached = undefined;
    }
  }
  if (cached) {
    if (!samePlatform(cached.platform, build.platform)) {
      throw new Error(`${build.idTag} holds a ${platformText(cached.platform)} image (${cached.manifest.digest}), not a ${build.platform} one; delete that tag, or build again with another staging repository`);
    }
    // Already built, by us or anyone sharing the staging repository: point the tag at it.
    // The build id names the image, or BuildKit's index of it and its attestations: the tag names the same.
    const current = await session.registry.getManifest(build.stagingTag);
    if (current?.digest !== cached.top.digest) await session.registry.putManifest(build.stagingTag, cached.top);
    log.say(`${build.label}: build ${build.id.slice(0, 12)} is already in ${build.repo} (${cached.top.digest}); not building`);
    return { digest: cached.top.digest, reused: true };
  }
  // A record is trusted only as far as the registry holds what it names (a cache can outlive a registry's contents),
  // blobs included, and a build starts FROM an image of its own platform.
  const parent = build.parent && (await session.registry.imagePlatform(build.parent.pinned));
  if (build.parent) {
    const missing = parent ? await session.registry.missingBlobsOf(build.parent.pinned, parent) : undefined;
    if (missing === undefined || missing.length > 0) {
      const what = missing === undefined ? "which the registry does not hold" : `whose blob ${missing[0]} the registry does not hold`;
      throw new Error(`the record of ${build.parent.label} names ${build.parent.pinned}, ${what}; build it again: npx nx run ${build.parent.task} --skip-nx-cache`);
    }
  }
  if (build.parent && parent && !samePlatform(parent.platform, build.platform)) {
    throw new Error(
      `the record of ${build.parent.label} names ${build.parent.pinned}, a ${platformText(parent.platform)} image, not a ${build.platform} one; build it again: npx nx run ${build.parent.task} --skip-nx-cache`,
    );
  }
  log.say(`${build.label}: building ${build.stagingTag} (build ${build.id.slice(0, 12)}) on ${build.builder.label}`);
  // Key and certificate files are named in a private folder that goes when the build ends.
  let connection: ReturnType<typeof connectBuilder>;
  try {
    connection = connectBuilder(build.builder.spec);
  } catch (e) {
    throw new BuilderError(`${build.builder.label}: ${(e as Error).message}`);
  }
  const env = { ...session.dockerEnv, ...connection.env };
  // Removed when done, or by the next run when this one is killed.
  const context = ownedDir(join(tmpdir(), "obi-build"), "context");
  const contextDir = context.path;
  try {
    const offered = await checkBuilder(build, session.runner, env, log);
    // A builder that cannot make attestations is said once and builds without (not a failed first try each time).
    if (offered.attestations === false && build.engine === "buildkit") cannotAttest(build, log, "it cannot make attestations (buildx's docker driver without the containerd image store)");
    if (build.rendered.kind === "opam-repository") {
      log.say(`${build.label}: checking out ${build.rendered.url} at ${build.rendered.commit}`);
      await checkoutPinned(session.runner, build.rendered.url, build.rendered.commit, contextDir);
    }
    const dockerfilePath = join(contextDir, "Dockerfile");
    if (existsSync(dockerfilePath)) throw new Error(`the build context of ${build.label} already has a Dockerfile`);
    writeFileSync(dockerfilePath, build.dockerfile);
    let request = buildRequest(build, contextDir, env, log);
    let digest: string | undefined;
    try {
      try {
        digest = (await (build.engine === "classic" ? classicBuildAndPush(session.runner, request) : buildAndPush(session.runner, request, session.retry))) ?? undefined;
      } catch (e) {
        if (!(e instanceof AttestationsUnsupported)) throw e;
        cannotAttest(build, log, e.message);
        request = buildRequest(build, contextDir, env, log);
        digest = (await buildAndPush(session.runner, request, session.retry)) ?? undefined;
      }
    } catch (e) {
      // A builder that went away mid-build is named as the cause, and fails the builds queued on it at once.
      await checkBuilder(build, session.runner, env, log, true);
      // A command stopped by a bound: say where it ran and which setting bounds it.
      if (e instanceof CommandError && e.result.ended && e.result.ended.kind !== "signal") {
        const setting = e.result.ended.kind === "idle" ? ENV.commandIdleSeconds : ENV.commandTimeoutSeconds;
        throw new Error(`on ${build.builder.label}: ${e.message} (${setting})`);
      }
      throw e;
    }
    // The record holds the pushed image's digest: when docker did not say it, the registry does.
    digest ??= (await session.registry.getManifest(build.idTag))?.digest;
    if (!digest) throw new Error(`pushed ${build.idTag}, but ${build.repo} does not hold it`);
    log.say(`${build.label}: pushed ${build.stagingTag} (${digest})`);
    return { digest, reused: false };
  } finally {
    connection.close();
    context.dispose();
  }
}

/** Builds one image for one arch, or in a dry run says how it would. */
export async function runBuild(rawOptions: BuildOptions, root: string, log: TaskLog): Promise<boolean> {
  const label = `${rawOptions.image} (${rawOptions.arch})`;
  try {
    const options = parseOptions("build", rawOptions);
    const settings = resolveSettings(options);
    const build = prepare(options, settings, root);
    log.note({ builder: build.builder.queue });
    const made = { image: options.image, arch: options.arch, platform: build.platform, stagingRepo: build.repo, stagingTag: build.stagingTag, buildId: build.id };
    let record: BuildRecord;
    if (settings.dryRun) {
      await describeBuild(build, log, settings.verbose);
      record = { dryRun: true, ...made };
      log.note({ reused: false, builder: build.builder.queue });
    } else {
      let retries = 0;
      // Each retry is counted in the run record, for /metrics.
      const session = openSession(settings, (line) => (log.note({ retries: ++retries }), log.say(`${label}: ${line}`)));
      try {
        const outcome = await realBuild(build, session, log);
        record = { dryRun: false, ...made, digest: outcome.digest };
        log.note({ reused: outcome.reused, builder: build.builder.queue, builderReachable: true });
      } finally {
        session.close();
      }
    }
    writeRecord(root, DIST_LAYOUT.buildRecord(record.dryRun ? "dry" : "real", options.image, options.arch), record);
    if (settings.dryRun) log.say(`${label}: dry run: nothing was built, nothing sent to a registry`);
    return true;
  } catch (e) {
    if (e instanceof UnreachableBuilder) log.note({ builderReachable: false });
    log.say(failureLine(label, "build", e));
    return false;
  }
}

/**
 * Where a build waits in a batch: its builder's queue, with that builder's slots,
 * ordered by its expected duration. A build whose builder cannot be resolved waits
 * nowhere: it runs at once and fails with the reason.
 */
export function placeBuild(options: BuildOptions): Placement {
  const estimate = estimatedMinutes(buildKindOf(options), builderKeyOf(options.os, options.arch));
  try {
    const builder = resolveBuilder(options);
    return { queue: builder.queue, slots: builder.slots, estimate };
  } catch {
    return { queue: "(no builder)", slots: Number.MAX_SAFE_INTEGER, estimate };
  }
}

const executor = trackedExecutorOf(runBuild, placeBuild);
export default executor.single;
/** Every build task of a run in one process, in dependency order. */
export const buildBatch = executor.batch;
