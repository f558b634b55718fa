/**
 * A lock shared by every process of this user on this machine, by key: two
 * workspaces building the same build (the same build-id tag) at once build it
 * once — the second waits, then finds the first's push in the registry. A
 * lock whose owner died (SIGKILL) is taken over; it is a file named by the
 * key's hash holding its owner, made whole (written aside, then hard-linked
 * into place), so nobody ever reads a half-written owner.
 */
import { createHash, randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { currentOwner, ownerAlive, ownerOf, ownerTag, type Owner } from "./owned-dirs";

const locksDir = (): string => join(tmpdir(), `obi-locks-${process.getuid?.() ?? "user"}`);

/** The lock's current owner, or undefined when it is free. */
function holder(path: string): Owner | undefined {
  try {
    return ownerOf(`${readFileSync(path, "utf8").trim()}-`);
  } catch {
    return undefined;
  }
}

function tryTake(path: string): boolean {
  const mine = `${path}.${ownerTag(currentOwner())}.${randomBytes(4).toString("hex")}`;
  writeFileSync(mine, ownerTag(currentOwner()));
  try {
    linkSync(mine, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    rmSync(mine, { force: true });
  }
}

/**
 * Runs `work` holding the lock for `key`; while another live process holds it,
 * says so once through `onWait` and waits (polling every `pollMs`).
 */
export async function withMachineLock<T>(key: string, onWait: (owner: Owner) => void, work: () => Promise<T>, pollMs = 500): Promise<T> {
  mkdirSync(locksDir(), { recursive: true, mode: 0o700 });
  const path = join(locksDir(), `${createHash("sha256").update(key).digest("hex").slice(0, 40)}.lock`);
  let told = false;
  while (!tryTake(path)) {
    const owner = holder(path);
    if (owner && !ownerAlive(owner)) {
      // Its owner was killed: the lock is stale. Whoever removes it first, everyone tries again.
      rmSync(path, { force: true });
      continue;
    }
    if (owner && !told) {
      told = true;
      onWait(owner);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  try {
    return await work();
  } finally {
    rmSync(path, { force: true });
  }
}
