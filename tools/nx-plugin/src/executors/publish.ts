/**
 * publish: one manifest list per public tag of the image, made from the
 * staging builds by digest. A tag that already lists exactly those images
 * is left alone, so running publish again changes nothing.
 */
import { join } from "node:path";
import { trackedExecutorOf } from "./records";
import { createManifestList, parseReference, repositoryName } from "../../../../libs/docker/src";
import {
  buildRecordPath,
  imageDir,
  openSession,
  readJson,
  resolveSettings,
  writeWhole,
  type BuildRecord,
  type PublishRecord,
  type RegistrySettings,
} from "./shared";

export interface PublishOptions {
  readonly image: string;
  /** Each public name, and the builds (image and arch) it joins. */
  readonly manifests: readonly { readonly name: string; readonly sources: readonly { readonly image: string; readonly arch: string }[] }[];
  readonly stagingRepo: string;
  readonly publicRepo: string;
  readonly registry?: RegistrySettings;
  readonly dryRun?: boolean;
}

/** Publishes one image's manifest lists; `say` receives the progress lines. */
export async function runPublish(rawOptions: PublishOptions, root: string, say: (line: string) => void): Promise<boolean> {
  const options = resolveSettings(rawOptions);
  const session = openSession(options, say);
  try {
    const manifests: PublishRecord["manifests"][number][] = [];
    for (const manifest of options.manifests) {
      const builds = manifest.sources.map((s) =>
        readJson<BuildRecord>(buildRecordPath(root, s.image, s.arch), `the build of ${s.image} (${s.arch})`),
      );
      const tag = `${repositoryName(parseReference(`${options.publicRepo}:x`))}:${manifest.name}`;
      const sources = builds.map((b) => `${repositoryName(parseReference(b.stagingTag))}@${b.digest ?? "<dry-run>"}`);
      let changed = true;
      if (!options.dryRun) {
        const current = await session.registry.platforms(tag);
        const want = new Set(builds.map((b) => b.digest));
        changed = !current || current.length !== want.size || !current.every((entry) => want.has(entry.digest));
      }
      if (changed) {
        say(`${options.image}: ${tag} <- ${sources.join(", ")}`);
        await createManifestList(session.runner, tag, sources, { env: session.dockerEnv });
      } else {
        say(`${options.image}: ${tag} already lists these images; unchanged`);
      }
      // The list's own digest, for the status index (status.json) and whoever pulls by digest.
      const digest = options.dryRun ? null : ((await session.registry.getManifest(tag))?.digest ?? null);
      manifests.push({ tag, sources, changed, digest });
    }
    const record: PublishRecord = { image: options.image, manifests, dryRun: Boolean(options.dryRun) };
    writeWhole(join(imageDir(root, options.image), "publish.json"), JSON.stringify(record, null, 2) + "\n");
    if (options.dryRun) say(`${options.image}: dry run: nothing was published`);
    return true;
  } catch (e) {
    say(`publish of ${options.image} failed: ${(e as Error).message}`);
    return false;
  } finally {
    session.close();
  }
}

const executor = trackedExecutorOf(runPublish);
export default executor.single;
/** Every publish task of a run in one process. */
export const publishBatch = executor.batch;
