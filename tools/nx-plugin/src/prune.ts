/**
 * What pruning the staging repository deletes: pure, from what the registry
 * holds (each staging manifest with its tags, its creation time and its blobs)
 * and what must be kept (the digests current public lists and build records
 * name). A manifest is deleted by digest, with every tag on it.
 */

export interface StagingManifest {
  readonly digest: string;
  /** Every staging tag on it. */
  readonly tags: readonly string[];
  /** When it was built (its config's `created`); unknown means never deleted. */
  readonly created: Date | undefined;
  /** Its config and layer blobs, with their sizes. */
  readonly blobs: readonly { readonly digest: string; readonly size: number }[];
}

export interface PrunePlan {
  readonly delete: readonly StagingManifest[];
  readonly keep: readonly StagingManifest[];
  /** Bytes of the blobs only deleted manifests use: what a garbage collection can free afterwards. */
  readonly freedBytes: number;
}

/**
 * Deletes what nothing current references and was built before `cutoff` (now
 * minus N rebuild periods): a build of this period or the last N is never a
 * candidate, so a publish running now, whose builds are new or reused from
 * this period, never loses one.
 */
export function planPrune(manifests: readonly StagingManifest[], referenced: ReadonlySet<string>, cutoff: Date): PrunePlan {
  const gone = (m: StagingManifest) => !referenced.has(m.digest) && m.created !== undefined && m.created.getTime() < cutoff.getTime();
  const del = manifests.filter(gone);
  const keep = manifests.filter((m) => !gone(m));
  const kept = new Set(keep.flatMap((m) => m.blobs.map((b) => b.digest)));
  const freed = new Map<string, number>();
  for (const m of del) for (const b of m.blobs) if (!kept.has(b.digest)) freed.set(b.digest, b.size);
  return { delete: del, keep, freedBytes: [...freed.values()].reduce((a, b) => a + b, 0) };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let unit = "B";
  for (const u of units) {
    if (v < 1024) break;
    v /= 1024;
    unit = u;
  }
  return `${v.toFixed(1)} ${unit}`;
}
