/**
 * A local cache of the repositories images are built from, so a pinned
 * commit is fetched once; build contexts are small shallow checkouts of it.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { runChecked, type Runner } from "./runner";

export const defaultCacheDir = (env = process.env): string =>
  join(env.OBI_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "ocaml-base-images"), "git");

/** Makes `dest` a checkout of `commit` from `url` (with a one-commit .git), fetching into the cache only if needed. */
export async function checkoutPinned(runner: Runner, url: string, commit: string, dest: string, cacheDir = defaultCacheDir()): Promise<void> {
  const mirror = join(cacheDir, `${createHash("sha256").update(url).digest("hex").slice(0, 16)}.git`);
  if (!existsSync(mirror)) {
    mkdirSync(cacheDir, { recursive: true });
    await runChecked(runner, "git", ["init", "--quiet", "--bare", mirror]);
    // Lets the shallow checkout below ask the cache for any commit it holds.
    await runChecked(runner, "git", ["-C", mirror, "config", "uploadpack.allowAnySHA1InWant", "true"]);
  }
  const present = await runner.run("git", ["-C", mirror, "cat-file", "-e", `${commit}^{commit}`]);
  if (present.exitCode !== 0) {
    const byCommit = await runner.run("git", ["-C", mirror, "fetch", "--quiet", url, commit]);
    if (byCommit.exitCode !== 0) await runChecked(runner, "git", ["-C", mirror, "fetch", "--quiet", url, "+refs/heads/*:refs/heads/*"]);
  }
  await runChecked(runner, "git", ["init", "--quiet", dest]);
  await runChecked(runner, "git", ["-C", dest, "fetch", "--quiet", "--depth", "1", `file://${mirror}`, commit]);
  await runChecked(runner, "git", ["-C", dest, "-c", "advice.detachedHead=false", "checkout", "--quiet", commit]);
}
