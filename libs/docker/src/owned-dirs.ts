/**
 * Folders that belong to one process and must not outlive it: each is named
 * after its owner (pid and the kernel's start time of that pid, so a reused
 * pid is not mistaken for the owner), removed by its owner when done, and
 * removed by the next process that makes one in the same place once the owner
 * is gone — so a SIGKILL leaves one behind only until the next run starts.
 */
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { undoOnExit } from "./cleanup";

/** A process, as the names of the folders it owns spell it. */
export interface Owner {
  readonly pid: number;
  /** The kernel's start time of the pid (Linux /proc); "0" where there is none. */
  readonly started: string;
}

function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22, counted after the command name, which may hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

export const currentOwner = (): Owner => ({ pid: process.pid, started: startTime(process.pid) ?? "0" });

/** Whether the process that owns something is still running (the same process, not a later one with its pid). */
export function ownerAlive(owner: Owner): boolean {
  if (owner.pid === process.pid) return true;
  const started = startTime(owner.pid);
  if (started !== undefined) return owner.started === "0" || started === owner.started;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export const ownerTag = (owner: Owner): string => `${owner.pid}-${owner.started}`;

/** The owner a name made by ownerTag starts with. */
export function ownerOf(name: string): Owner | undefined {
  const m = /^(\d+)-(\d+)-/.exec(name);
  return m ? { pid: Number(m[1]), started: m[2] as string } : undefined;
}

/**
 * Makes `dir` (mode 0700) if it is missing and checks it is a real folder of this
 * user that nobody else can enter: one made in advance by someone else, or left
 * open (0777), is refused in one line rather than used.
 */
export function privateDir(dir: string, what: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o077) !== 0) {
    const found = stat.isDirectory() ? `owned by uid ${stat.uid}, mode ${(stat.mode & 0o777).toString(8).padStart(4, "0")}` : "not a folder";
    throw new Error(`${dir} is not a private folder of this user (uid ${uid ?? "?"}, mode 0700; it is ${found}); refusing to keep ${what} there`);
  }
}

export interface OwnedDir {
  readonly path: string;
  /** Removes the folder and everything in it. */
  dispose(): void;
}

/**
 * A new folder of this process under `parent` (made 0700 and checked to be a real
 * folder of ours, not a link someone planted), after removing those of owners that are gone.
 */
export function ownedDir(parent: string, purpose: string): OwnedDir {
  privateDir(parent, "files");
  sweep(parent);
  const path = mkdtempSync(join(parent, `${ownerTag(currentOwner())}-${purpose}-`));
  // An exit (even after an uncaught error) or a SIGINT/SIGTERM removes it; a SIGKILL leaves it to sweep().
  const forget = undoOnExit(() => rmSync(path, { recursive: true, force: true }));
  return {
    path,
    dispose: () => {
      rmSync(path, { recursive: true, force: true });
      forget();
    },
  };
}

/** Removes the folders under `parent` whose owner is gone; returns their names. */
export function sweep(parent: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return removed;
  }
  for (const name of names) {
    const owner = ownerOf(name);
    if (!owner || ownerAlive(owner)) continue;
    rmSync(join(parent, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
