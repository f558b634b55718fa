/**
 * publish: one manifest list per public tag of the image, made from the
 * staging builds by digest. A tag that already lists exactly those images
 * is left alone, so running publish again changes nothing.
 */
import type { TaskLog } from "./batch";
import { trackedExecutorOf } from "./records";
import { addWindowsVersions, digestIn, parseReference, repositoryText, tagIn } from "../../../../libs/docker/src";
import { DIST_LAYOUT, REDO, renderedManifestsSchema, type PublishRecord, type RealPublishRecord, type RecordMode } from "../../../../libs/records/src";
import { resolveSettings } from "../settings";
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
      return {
        tag: tagIn(publicRepo, manifest.name),
        builds,
        // The plan's Windows version per build digest, for images whose config carries none.
        osVersions: new Map(builds.flatMap((b, i) => (!b.dryRun && manifest.sources[i]?.osVersion ? [[b.digest, manifest.sources[i].osVersion] as const] : []))),
        sources: builds.map((b) => {
          // The staging repository a build went to is in its record, as a reference docker understands.
          const staging = parseReference(b.stagingTag);
          const repo = { registry: staging.registry, path: staging.repository };
          // A dry build has no digest yet; its build-id tag names exactly the image a real run would join.
          return b.dryRun ? tagIn(repo, `build-${b.buildId}`) : digestIn(repo, b.digest);
        }),
      };
    });
    const made = { image: options.image, publicRepo: repositoryText(publicRepo) };
    let record: PublishRecord;
    if (settings.dryRun) {
      for (const { tag, sources, builds } of wanted) {
        say(`would push ${tag} <- ${sources.join(", ")}`);
        if (builds.some((b) => b.platform.startsWith("windows/"))) say(`would give ${tag}'s Windows entries the os.version their images' configs carry`);
      }
      record = { dryRun: true, ...made, manifests: wanted.map(({ tag, sources }) => ({ tag, sources })) };
    } else {
      const manifests: RealPublishRecord["manifests"][number][] = [];
      const session = openSession(settings, say);
      try {
        // Nothing is published from a record the registry does not back: each build it names must be there.
        const checked = new Set<string>();
        for (const { builds, sources } of wanted) {
          for (const [i, source] of sources.entries()) {
            if (checked.has(source)) continue;
            checked.add(source);
            if (await session.registry.getManifest(source)) continue;
            const build = builds[i];
            throw new Error(
              `the record of ${build?.image} (${build?.arch}) names ${source}, which the registry does not hold; build it again: npx nx run ${build?.image}:build-${build?.arch} --skip-nx-cache`,
            );
          }
        }
        for (const { tag, builds, sources, osVersions } of wanted) {
          const current = await session.registry.platforms(tag);
          const want = new Set(builds.map((b) => (b.dryRun ? undefined : b.digest)));
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
          const digest = (await session.registry.getManifest(tag))?.digest;
          if (!digest) throw new Error(`pushed ${tag}, but the registry does not hold it`);
          manifests.push({ tag, sources, changed, digest });
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

const executor = trackedExecutorOf(runPublish);
export default executor.single;
/** Every publish task of a run in one process. */
export const publishBatch = executor.batch;
