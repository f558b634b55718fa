/**
 * publish: one manifest list per public tag of the image, made from the
 * staging builds by digest. A tag that already lists exactly those images
 * is left alone, so running publish again changes nothing.
 */
import { join } from "node:path";
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
  type ListEntry,
  type RegistryClient,
} from "../../../../libs/docker/src";
import { listStamp, resolveSettings } from "../settings";
import {
  buildRecordPath,
  imageDir,
  manifestsPath,
  openSession,
  readJson,
  writeWhole,
  type BuildRecord,
  type PublishRecord,
  type RenderedManifests,
} from "./shared";
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
    const rendered = readJson<RenderedManifests>(manifestsPath(root, options.image), `the tags of ${options.image}`);
    const wanted = rendered.manifests.map((manifest) => {
      const builds = manifest.sources.map((s) =>
        readJson<BuildRecord>(buildRecordPath(root, s.image, s.arch), `the build of ${s.image} (${s.arch})`),
      );
      const dry = builds.find((b) => b.dryRun || !b.digest);
      // Nothing half-real: a dry build never reaches a public tag.
      if (dry && !settings.dryRun) throw new Error(`${dry.image} (${dry.arch}) was only a dry run; build it for real before publishing`);
      const tag = tagRef(publicRepo, manifest.name);
      const entries: ListEntry[] = builds.map((b, i) => {
        // The staging repository a build went to is in its record, as a reference docker understands.
        const staging = parseReference(b.stagingTag);
        // A dry build has no digest yet; its build-id tag names exactly the image a real run would join.
        const source: ImageReference = b.digest ? pinned(staging, b.digest) : tagRef(repositoryOf(staging), buildIdTag(b.buildId));
        // The plan's Windows version, for an image whose config carries none.
        const osVersion = manifest.sources[i]?.osVersion;
        return { source, platform: b.platform, ...(osVersion ? { osVersion } : {}) };
      });
      return { tag, builds, entries, sources: entries.map((e) => formatReference(e.source)) };
    });
    const manifests: PublishRecord["manifests"][number][] = [];
    if (settings.dryRun) {
      for (const { tag, sources, builds } of wanted) {
        const text = formatReference(tag);
        say(`would push ${text} <- ${sources.join(", ")}`);
        if (settings.description) {
          const about = Object.entries(describedAs(settings.description)).map(([k, v]) => `${k}=${v}`);
          say(`would annotate ${text} with ${about.join(", ")}, and its created time and revision`);
        }
        if (builds.some((b) => b.platform.startsWith("windows/"))) say(`would give ${text}'s Windows entries the os.version their images' configs carry`);
        manifests.push({ tag: text, sources, changed: true, digest: null });
      }
    } else {
      const session = openSession(settings, say);
      try {
        // Nothing is published from a record the registry does not back: each build it names must be there.
        const checked = new Set<string>();
        for (const { builds, sources, entries } of wanted) {
          for (const [i, source] of sources.entries()) {
            if (checked.has(source)) continue;
            checked.add(source);
            if (await session.registry.getManifest(entries[i]?.source ?? source)) continue;
            const build = builds[i];
            throw new Error(
              `the record of ${build?.image} (${build?.arch}) names ${source}, which the registry does not hold; build it again: npx nx run ${build?.image}:build-${build?.arch} --skip-nx-cache`,
            );
          }
        }
        // Written once per run: every list of this publish says the same time and commit.
        const annotations = settings.description ? listAnnotations(settings.description, listStamp(root)) : {};
        for (const { tag, entries, sources } of wanted) {
          const text = formatReference(tag);
          const current = await session.registry.getManifest(tag);
          let digest = current?.digest ?? null;
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
          manifests.push({ tag: text, sources, changed, digest });
        }
      } finally {
        session.close();
      }
    }
    const record: PublishRecord = { image: options.image, manifests, dryRun: settings.dryRun };
    writeWhole(join(imageDir(root, options.image), "publish.json"), JSON.stringify(record, null, 2) + "\n");
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
