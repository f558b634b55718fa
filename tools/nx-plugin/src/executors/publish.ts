/**
 * publish: one manifest list per public tag of the image, made from the
 * staging builds by digest. A tag that already lists exactly those images
 * is left alone, so running publish again changes nothing.
 */
import { join } from "node:path";
import type { TaskLog } from "./batch";
import { trackedExecutorOf } from "./records";
import { addWindowsVersions, digestIn, parseReference, tagIn } from "../../../../libs/docker/src";
import { resolveSettings } from "../settings";
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
      return {
        tag: tagIn(publicRepo, manifest.name),
        builds,
        // The plan's Windows version per build digest, for images whose config carries none.
        osVersions: new Map(builds.flatMap((b, i) => (b.digest && manifest.sources[i]?.osVersion ? [[b.digest, manifest.sources[i].osVersion] as const] : []))),
        sources: builds.map((b) => {
          // The staging repository a build went to is in its record, as a reference docker understands.
          const staging = parseReference(b.stagingTag);
          const repo = { registry: staging.registry, path: staging.repository };
          // A dry build has no digest yet; its build-id tag names exactly the image a real run would join.
          return b.digest ? digestIn(repo, b.digest) : tagIn(repo, `build-${b.buildId}`);
        }),
      };
    });
    const manifests: PublishRecord["manifests"][number][] = [];
    if (settings.dryRun) {
      for (const { tag, sources, builds } of wanted) {
        say(`would push ${tag} <- ${sources.join(", ")}`);
        if (builds.some((b) => b.platform.startsWith("windows/"))) say(`would give ${tag}'s Windows entries the os.version their images' configs carry`);
        manifests.push({ tag, sources, changed: true, digest: null });
      }
    } else {
      const session = openSession(settings, say);
      try {
        // Nothing is published from a record the registry does not back: each build it names must be there.
        const checked = new Set<string>();
        for (const { builds, sources } of wanted) {
          for (const [i, source] of sources.entries()) {
            if (checked.has(source)) continue;
            checked.add(source);
            const missing = await session.registry.missingBlobs(source);
            if (missing !== undefined && missing.length === 0) continue;
            const build = builds[i];
            const what = missing === undefined ? "which the registry does not hold" : `whose blob ${missing[0]} the registry does not hold`;
            throw new Error(
              `the record of ${build?.image} (${build?.arch}) names ${source}, ${what}; build it again: npx nx run ${build?.image}:build-${build?.arch} --skip-nx-cache`,
            );
          }
        }
        for (const { tag, builds, sources, osVersions } of wanted) {
          const current = await session.registry.platforms(tag);
          const want = new Set(builds.map((b) => b.digest));
          const changed = !current || current.length !== want.size || !current.every((entry) => want.has(entry.digest));
          if (changed) {
            say(`pushing ${tag} <- ${sources.join(", ")}`);
            // Our client, not `docker buildx imagetools create`: that one moves the tag to each arch's image before the list.
            await session.registry.putManifestList(tag, sources);
            // Windows entries carry their Windows version, as upstream's lists do.
            if (builds.some((b) => b.platform.startsWith("windows/"))) {
              say(`${tag}: Windows entries for os.version ${(await addWindowsVersions(session.registry, tag, osVersions)).join(", ")}`);
            }
          } else {
            say(`${tag} already lists these images; unchanged`);
          }
          // The list's own digest, for the status index (status.json) and whoever pulls by digest.
          const digest = (await session.registry.getManifest(tag))?.digest ?? null;
          manifests.push({ tag, sources, changed, digest });
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

const executor = trackedExecutorOf(runPublish);
export default executor.single;
/** Every publish task of a run in one process. */
export const publishBatch = executor.batch;
