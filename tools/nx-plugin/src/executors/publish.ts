/**
 * publish: one manifest list per public tag of the image, made from the
 * staging builds by digest. A tag that already lists exactly those images
 * is left alone, so running publish again changes nothing.
 */
import type { TaskLog } from "./batch";
import { trackedExecutorOf } from "./records";
import {
  buildIdTag,
  describedAs,
  listAnnotations,
  STAMP_KEYS,
  formatReference,
  parseReference,
  pinned,
  repositoryOf,
  samePlatform,
  tagRef,
  type ImageReference,
  repositoryText,
  shortBuildRef,
  type ListEntry,
  type RegistryClient,
} from "../../../../libs/docker/src";
import { DIST_LAYOUT, REDO, renderedManifestsSchema, type PublishRecord, type RealPublishRecord, type RecordMode } from "../../../../libs/records/src";
import { listStamp, resolveSettings } from "../settings";
import { openSession, readBuildRecord, readRecord, writeRecord } from "./shared";
import { failureLine, parseOptions, type PublishOptions } from "./options";

export type { PublishOptions };

/** Publishes one image's manifest lists, or in a dry run says what it would push. */
export async function runPublish(rawOptions: PublishOptions, root: string, log: TaskLog): Promise<boolean> {
  const say = (line: string) => log.say(`${rawOptions.image}: ${line}`);
  try {
    const options = parseOptions("publish", rawOptions);
    const settings = resolveSettings(options);
    const publicRepo = settings.public;
    if (!publicRepo) throw new Error("no public repository is set");
    const rendered = readRecord(root, DIST_LAYOUT.manifests(options.image), renderedManifestsSchema, REDO.render(options.image));
    const mode: RecordMode = settings.dryRun ? "dry" : "real";
    const wanted = rendered.manifests.map((manifest) => {
      // Nothing half-real: a real publish reads only real builds' records, and refuses a dry run's.
      const builds = manifest.sources.map((s) => readBuildRecord(root, mode, s.image, s.arch));
      const tag = tagRef(publicRepo, manifest.name);
      const entries: ListEntry[] = builds.map((b, i) => {
        // The staging repository a build went to is in its record, as a reference docker understands.
        const staging = parseReference(b.stagingTag);
        // A dry build has no digest yet; its build-id tag names exactly the image a real run would join.
        const source: ImageReference = b.dryRun ? tagRef(repositoryOf(staging), buildIdTag(b.buildId)) : pinned(staging, b.digest);
        // The plan's Windows version, for an image whose config carries none.
        const osVersion = manifest.sources[i]?.osVersion;
        return { source, platform: b.platform, ...(osVersion ? { osVersion } : {}) };
      });
      return { tag, builds, entries, sources: entries.map((e) => formatReference(e.source)) };
    });
    const made = { image: options.image, publicRepo: repositoryText(publicRepo) };
    let record: PublishRecord;
    if (settings.dryRun) {
      for (const { tag, sources, builds } of wanted) {
        const text = formatReference(tag);
        // Each build by its short id tag, unless --verbose asks for the whole.
        const shown = settings.verbose ? sources : builds.map((b) => shortBuildRef(repositoryOf(parseReference(b.stagingTag)), b.buildId));
        say(`would push ${text} <- ${shown.join(", ")}`);
        if (settings.description) {
          const about = Object.entries(describedAs(settings.description)).map(([k, v]) => `${k}=${v}`);
          say(`would annotate ${text} with ${about.join(", ")}, and its created time and revision`);
        }
        if (builds.some((b) => b.platform.startsWith("windows/"))) say(`would give ${text}'s Windows entries the os.version their images' configs carry`);
      }
      record = { dryRun: true, ...made, manifests: wanted.map(({ tag, sources }) => ({ tag: formatReference(tag), sources })) };
    } else {
      const manifests: RealPublishRecord["manifests"][number][] = [];
      let retries = 0;
      // Each retry is counted in the run record, for /metrics.
      const session = openSession(settings, (line) => (log.note({ retries: ++retries }), say(line)));
      try {
        // Nothing is published from a record the registry does not back: each build it names must be there.
        const checked = new Set<string>();
        for (const { builds, sources, entries } of wanted) {
          for (const [i, source] of sources.entries()) {
            if (checked.has(source)) continue;
            checked.add(source);
            const missing = await session.registry.missingBlobs(entries[i]?.source ?? source);
            if (missing !== undefined && missing.length === 0) continue;
            const build = builds[i];
            const what = missing === undefined ? "which the registry does not hold" : `whose blob ${missing[0]} the registry does not hold`;
            throw new Error(
              `the record of ${build?.image} (${build?.arch}) names ${source}, ${what}; build it again: npx nx run ${build?.image}:build-${build?.arch} --skip-nx-cache`,
            );
          }
        }
        // Written once per run: every list of this publish says the same time and commit.
        const annotations = settings.description ? listAnnotations(settings.description, listStamp(root)) : {};
        for (const { tag, entries, sources } of wanted) {
          const text = formatReference(tag);
          const current = await session.registry.getManifest(tag);
          let digest = current?.digest;
          const changed = !current || !(await listsExactly(session.registry, current.bytes, entries, annotations));
          if (changed) {
            say(`pushing ${text} <- ${sources.join(", ")}`);
            // Our client, not `docker buildx imagetools create`: that one moves the tag to each arch's image before the list.
            // Written once, whole: Windows entries carry their os.version from their configs (else the plan's), as upstream's lists do.
            const written = await session.registry.putManifestList(tag, entries, annotations);
            digest = written.digest;
            const versions = written.platforms.flatMap((p) => (p.os === "windows" && p["os.version"] ? [p["os.version"]] : []));
            if (versions.length > 0) say(`${text}: Windows entries for os.version ${versions.join(", ")}`);
          } else {
            say(`${text} already lists these images; unchanged`);
          }
          // The list's own digest, for the status index (status.json) and whoever pulls by digest.
          if (!digest) throw new Error(`pushed ${text}, but the registry does not hold it`);
          manifests.push({ tag: text, sources, changed, digest });
        }
        record = { dryRun: false, ...made, manifests };
      } finally {
        session.close();
      }
    }
    writeRecord(root, DIST_LAYOUT.publishRecord(mode, options.image), record);
    if (settings.dryRun) say("dry run: no tag was created or moved");
    return true;
  } catch (e) {
    log.say(failureLine(rawOptions.image, "publish", e));
    return false;
  }
}

/**
 * Whether a list already names exactly these images, each for its planned platform
 * (and a Windows one with an os.version), with their attestations, and says the same of
 * them (its annotations but when and from which commit it was written): then publishing
 * again changes nothing.
 */
async function listsExactly(registry: RegistryClient, bytes: Buffer, entries: readonly ListEntry[], annotations: Readonly<Record<string, string>>): Promise<boolean> {
  type Entry = { digest?: string; platform?: { os: string; architecture: string; variant?: string; "os.version"?: string } };
  const list = JSON.parse(bytes.toString("utf8")) as { manifests?: Entry[]; annotations?: Record<string, string> };
  const listed = list.manifests;
  if (!listed) return false;
  const lasting = (a: Readonly<Record<string, string>>) => JSON.stringify(Object.entries(a).filter(([k]) => !STAMP_KEYS.has(k)).sort());
  if (lasting(list.annotations ?? {}) !== lasting(annotations)) return false;
  let count = 0;
  for (const want of entries) {
    // A build's record names its image, or BuildKit's index of it and its attestations: the list holds those, not the index.
    const built = await registry.imagePlatform(want.source);
    if (!built) return false;
    const got = listed.find((e) => e.digest === built.manifest.digest);
    if (got?.platform === undefined || !samePlatform(got.platform, want.platform) || (got.platform.os === "windows" && !got.platform["os.version"])) return false;
    if (!built.attestations.every((a) => listed.some((e) => e.digest === a.manifest.digest))) return false;
    count += 1 + built.attestations.length;
  }
  return listed.length === count;
}

const executor = trackedExecutorOf(runPublish);
export default executor.single;
/** Every publish task of a run in one process. */
export const publishBatch = executor.batch;
