/**
 * A lock shared by every process of this user on this machine, by key: two
 * workspaces building the same build (the same build-id tag) at once build it
 * once — the second waits, then finds the first's push in the registry.
 *
 * A lock is a file named by the key's hash, holding its owner, made whole
 * (written aside, then hard-linked into place: link fails when the name
 * exists, so one taker wins), in a folder of this user's that nobody else can
 * enter (0700, refused otherwise). A lock is stale when its owner is gone
 * (SIGKILL), or when it names no owner (empty, unreadable, not ours) and is older
 * than `staleMs`. A stale lock is broken under a breaker — a lock of its own,
 * `<lock>.break`, taken the same way — and judged stale again under it: two runs
 * finding the same stale lock cannot both take it. The lock is released at the end of the work, at exit and on
 * SIGINT/SIGTERM (cleanup.ts).
 */
import { createHash, randomBytes } from "node:crypto";
import { linkSync, lstatSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { undoOnExit } from "./cleanup";
import { currentOwner, ownerAlive, ownerOf, ownerTag, privateDir, type Owner } from "./owned-dirs";

export const locksDir = (): string => join(tmpdir(), `obi-locks-${process.getuid?.() ?? "user"}`);

/** Where the lock for `key` lives. */
export const lockPath = (key: string): string => join(locksDir(), `${createHash("sha256").update(key).digest("hex").slice(0, 40)}.lock`);

export interface LockOptions {
  /** How often a waiting run looks again. */
  readonly pollMs?: number;
  /** How old a lock that names no live owner (empty, unreadable) must be to count as stale. */
  readonly staleMs?: number;
}

export const DEFAULT_LOCK_STALE_MS = 30_000;

/** What is at a lock's name. The steps (stateOf, tryTake, breakStale) are exported for the interleaving test. */
export type LockState =
  | { readonly kind: "free" }
  | { readonly kind: "held"; readonly owner: Owner }
  /** Names no owner, and is younger than the bound: its maker may be writing it (never one of ours: ours are made whole). */
  | { readonly kind: "unclaimed" }
  | { readonly kind: "stale" };

const code = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

export function stateOf(path: string, staleMs: number): LockState {
  let stat;
  try {
    stat = lstatSync(path);
  } catch (e) {
    if (code(e) === "ENOENT") return { kind: "free" };
    throw e;
  }
  let owner: Owner | undefined;
  try {
    if (stat.isFile()) owner = ownerOf(`${readFileSync(path, "utf8").trim()}-`);
  } catch {
    owner = undefined;
  }
  if (owner) return ownerAlive(owner) ? { kind: "held", owner } : { kind: "stale" };
  // ctime, not mtime: a planted file's mtime can be set to anything, its ctime cannot.
  return Date.now() - stat.ctimeMs > staleMs ? { kind: "stale" } : { kind: "unclaimed" };
}

/** Puts a lock naming this process at `path`; false when the name is taken. Returns its inode when taken. */
export function tryTake(path: string): number | undefined {
  const mine = `${path}.${ownerTag(currentOwner())}.${randomBytes(4).toString("hex")}`;
  writeFileSync(mine, ownerTag(currentOwner()), { mode: 0o600 });
  try {
    linkSync(mine, path);
    return lstatSync(mine).ino;
  } catch (e) {
    if (code(e) === "EEXIST") return undefined;
    throw e;
  } finally {
    rmSync(mine, { force: true });
  }
}

/**
 * Removes the lock at `path` if it is stale, judged again while holding its breaker
 * (only a breaker's holder removes a lock's name, so judging and removing are one
 * step for every other run); false when another process is breaking it (wait, then look again).
 */
export function breakStale(path: string, staleMs: number): boolean {
  const breaker = `${path}.break`;
  const mine = tryTake(breaker);
  if (mine === undefined) {
    // Someone else is breaking it. A breaker whose owner is gone (SIGKILL mid-break) is itself a stale lock, broken the same way.
    if (stateOf(breaker, Number.POSITIVE_INFINITY).kind === "stale") breakStale(breaker, Number.POSITIVE_INFINITY);
    return false;
  }
  try {
    // Judged again: if another run broke it and took the lock since, the lock is held (theirs), not stale.
    if (stateOf(path, staleMs).kind === "stale") rmSync(path, { force: true });
    return true;
  } finally {
    release(breaker, mine);
  }
}

/** Removes our lock at `path`, if the name is still ours. */
function release(path: string, ino: number): void {
  try {
    if (lstatSync(path).ino === ino) rmSync(path, { force: true });
  } catch {
    // Already gone.
  }
}

/**
 * Runs `work` holding the lock for `key`; while another live process holds it,
 * says so once through `onWait` and waits (polling every `pollMs`).
 */
export async function withMachineLock<T>(key: string, onWait: (owner: Owner) => void, work: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const pollMs = options.pollMs ?? 500;
  const staleMs = options.staleMs ?? DEFAULT_LOCK_STALE_MS;
  privateDir(locksDir(), "locks");
  const path = lockPath(key);
  let told = false;
  let ino: number | undefined;
  while ((ino = tryTake(path)) === undefined) {
    const state = stateOf(path, staleMs);
    if (state.kind === "stale" && breakStale(path, staleMs)) continue;
    if (state.kind === "held" && !told) {
      told = true;
      onWait(state.owner);
    }
    if (state.kind !== "free") await new Promise((r) => setTimeout(r, pollMs));
  }
  const held = ino;
  const forget = undoOnExit(() => release(path, held));
  try {
    return await work();
  } finally {
    release(path, held);
    forget();
  }
}
