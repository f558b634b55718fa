/** Looking for secrets where they must not be: every file under a folder that holds one. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** Files under `dir` (not following links; none over 5 MB) whose bytes hold any of `needles`. */
export function filesHolding(dir: string, needles: readonly string[]): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return filesHolding(path, needles);
    try {
      if (!e.isFile() || statSync(path).size > 5_000_000) return [];
      const text = readFileSync(path).toString("latin1");
      return needles.some((n) => text.includes(n)) ? [path] : [];
    } catch {
      // Gone or unreadable since it was listed: nothing to find in it.
      return [];
    }
  });
}
