/**
 * Which stored artifacts to drop: those stored longer ago than the maximum
 * age, then the least recently read ones until the store fits its budget.
 */
export interface Retention {
  /** The store's size budget in bytes. */
  readonly maxTotalBytes?: number;
  /** Artifacts stored longer ago than this are removed, read or not. */
  readonly maxAgeMs?: number;
}

export interface EntryInfo {
  readonly hash: string;
  readonly size: number;
  /** When the artifact was stored (ms since the epoch). */
  readonly storedAt: number;
  /** When it was last read; its storing counts as a read. */
  readonly readAt: number;
}

export type EvictionReason = "expired" | "over budget";

export function isExpired(entry: Pick<EntryInfo, "storedAt">, retention: Retention, now: number): boolean {
  return retention.maxAgeMs !== undefined && now - entry.storedAt > retention.maxAgeMs;
}

export function evictions(entries: Iterable<EntryInfo>, retention: Retention, now: number): { hash: string; reason: EvictionReason }[] {
  const chosen: { hash: string; reason: EvictionReason }[] = [];
  const kept: EntryInfo[] = [];
  for (const entry of entries) {
    if (isExpired(entry, retention, now)) chosen.push({ hash: entry.hash, reason: "expired" });
    else kept.push(entry);
  }
  if (retention.maxTotalBytes === undefined) return chosen;
  let total = kept.reduce((sum, e) => sum + e.size, 0);
  kept.sort((a, b) => a.readAt - b.readAt);
  for (const entry of kept) {
    if (total <= retention.maxTotalBytes) break;
    chosen.push({ hash: entry.hash, reason: "over budget" });
    total -= entry.size;
  }
  return chosen;
}
