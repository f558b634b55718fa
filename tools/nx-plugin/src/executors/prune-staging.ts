/**
 * prune-staging: deletes staging manifests that no current public list and no
 * current build record names and that were built more than `keepPeriods`
 * rebuild periods ago. A dry run by default (what it would delete, and the
 * bytes a garbage collection could then free); `--confirm` deletes, by digest,
 * re-checking each one right before.
 *
 *   nx run images:prune-staging            nx run images:prune-staging --confirm
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ExecutorContext } from "@nx/devkit";
import { parseReference, RegistryError, repositoryText, type ImageReference, type RegistryClient } from "../../../../libs/docker/src";
import { loadMatrix } from "../../../../libs/matrix/src";
import { makePlan } from "../../../../libs/plan/src";
import { DIST_LAYOUT } from "../../../../libs/records/src";
import { formatBytes, planPrune, type StagingManifest } from "../prune";
import { resolveRepositories, resolveRetirement, resolveSettings } from "../settings";
import { openSession, say } from "./shared";
import { parseOptions, type PruneStagingOptions } from "./options";

export type { PruneStagingOptions };

const DAY_MS = 86_400_000;
export const DEFAULT_KEEP_PERIODS = 4;

/** The staging digests the build records under dist/ name, read now. */
export function recordedDigests(root: string): Set<string> {
  const digests = new Set<string>();
  const dist = join(root, DIST_LAYOUT.images);
  for (const image of existsSync(dist) ? readdirSync(dist) : []) {
    for (const file of readdirSync(join(dist, image))) {
      if (!/^build-[a-z0-9]+\.json$/.test(file)) continue;
      try {
        const record = JSON.parse(readFileSync(join(dist, image, file), "utf8")) as { digest?: string | null };
        if (record.digest) digests.add(record.digest);
      } catch {
        // Half-written by a run going on: that run's build is new, so kept by age anyway.
      }
    }
  }
  return digests;
}

/** Each staging manifest: its tags, when it was built and its blobs. */
async function stagingManifests(client: RegistryClient, repo: ImageReference): Promise<StagingManifest[]> {
  const byDigest = new Map<string, { tags: string[]; bytes: Buffer }>();
  for (const tag of await client.listTags(repo)) {
    const manifest = await client.getManifest({ ...repo, tag });
    if (!manifest) continue;
    const entry = byDigest.get(manifest.digest) ?? { tags: [], bytes: manifest.bytes };
    entry.tags.push(tag);
    byDigest.set(manifest.digest, entry);
  }
  const out: StagingManifest[] = [];
  for (const [digest, { tags, bytes }] of byDigest) {
    const json = JSON.parse(bytes.toString("utf8")) as { config?: { digest: string; size: number }; layers?: { digest: string; size: number }[] };
    let created: Date | undefined;
    if (json.config) {
      const blob = await client.getBlob(repo, json.config.digest);
      const config = blob ? ((await blob.json()) as { created?: string }) : undefined;
      const t = config?.created ? Date.parse(config.created) : NaN;
      created = Number.isNaN(t) ? undefined : new Date(t);
    }
    const blobs = [...(json.config ? [json.config] : []), ...(json.layers ?? [])].map((b) => ({ digest: b.digest, size: b.size }));
    out.push({ digest, tags: tags.sort(), created, blobs });
  }
  return out;
}

/** Every image digest the plan's public tags list now. */
async function publicDigests(client: RegistryClient, tags: readonly string[]): Promise<Set<string>> {
  const digests = new Set<string>();
  for (const tag of tags) for (const entry of (await client.platforms(tag)) ?? []) digests.add(entry.digest);
  return digests;
}

export default async function pruneStagingExecutor(rawOptions: PruneStagingOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  let session: ReturnType<typeof openSession> | undefined;
  try {
    const options = parseOptions("prune-staging", rawOptions);
    const settings = resolveSettings(options);
    const days = options.rebuildPeriodDays ?? 7;
    if (days <= 0) throw new Error("rebuildPeriodDays is 0: builds never age out of their id, so nothing can be told old; set a rebuild period to prune");
    const keepPeriods = options.keepPeriods ?? DEFAULT_KEEP_PERIODS;
    const retirement = resolveRetirement(options.deprecationGraceDays);
    const cutoff = new Date(retirement.now.getTime() - keepPeriods * days * DAY_MS);
    const plan = makePlan(loadMatrix(context.root), {
      repositories: resolveRepositories(options),
      pins: "commit",
      ...(options.site ? { site: options.site } : {}),
      retirement,
    });
    session = openSession(settings, say);
    const client = session.registry;
    const staging = repositoryText(settings.staging);
    const repo = parseReference(`${staging}:x`);
    const publicTags = [...new Set(plan.images.flatMap((i) => i.manifests.map((m) => m.tag)))];
    const referenced = new Set([...(await publicDigests(client, publicTags)), ...recordedDigests(context.root)]);
    const pruning = planPrune(await stagingManifests(client, repo), referenced, cutoff);
    const line = (m: StagingManifest) => `${staging}@${m.digest} (${m.tags.join(", ")}; built ${m.created?.toISOString().slice(0, 10) ?? "?"})`;
    const verb = options.confirm ? "deleting" : "would delete";
    for (const m of pruning.delete) say(`${verb} ${line(m)}`);
    say(
      `${pruning.delete.length} of ${pruning.delete.length + pruning.keep.length} staging manifest(s), ${pruning.delete.reduce((n, m) => n + m.tags.length, 0)} tag(s), ` +
        `${formatBytes(pruning.freedBytes)} only they use (built before ${cutoff.toISOString().slice(0, 10)}: ${keepPeriods} rebuild period(s) of ${days} days)`,
    );
    if (!options.confirm) {
      say("a dry run: nothing deleted; --confirm deletes");
      return { success: true };
    }
    let deleted = 0;
    for (const m of pruning.delete) {
      // Right before deleting: a record written since, or a tag moved onto it since, keeps it.
      if (recordedDigests(context.root).has(m.digest)) {
        say(`kept ${line(m)}: a build record names it now`);
        continue;
      }
      const moved = await Promise.all(m.tags.map(async (tag) => (await client.getManifest({ ...repo, tag }))?.digest));
      if (moved.some((d) => d !== undefined && d !== m.digest)) {
        say(`kept ${line(m)}: one of its tags moved while pruning; run again`);
        continue;
      }
      try {
        await client.deleteManifest({ ...repo, tag: undefined, digest: m.digest });
      } catch (e) {
        if (e instanceof RegistryError && (e.status === 405 || /UNSUPPORTED/.test(e.message))) {
          throw new Error(`${repo.registry} refuses deletes (HTTP ${e.status ?? "?"}): enable them in its configuration (distribution: storage.delete.enabled: true); nothing more deleted`);
        }
        throw e;
      }
      deleted++;
    }
    say(`deleted ${deleted} manifest(s); the registry frees their blobs at its next garbage collection (docker-registry garbage-collect <config>)`);
    return { success: true };
  } catch (e) {
    process.stderr.write(`prune-staging: ${(e as Error).message}\n`);
    return { success: false };
  } finally {
    session?.close();
  }
}
