/** Looking for secrets where they must not be: every file under a folder that holds one, or a stream. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

/** The bytes to search of a file: itself, and what it unpacks to when it is gzip (Nx's remote cache artifacts are .tar.gz). */
function contents(path: string, unpack: boolean): string[] {
  const bytes = readFileSync(path);
  const texts = [bytes.toString("latin1")];
  if (unpack && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      texts.push(gunzipSync(bytes, { maxOutputLength: 200_000_000 }).toString("latin1"));
    } catch {
      // Not whole gzip after all: its raw bytes were searched.
    }
  }
  return texts;
}

/**
 * Files under `dir` (not following links; none over 5 MB) whose bytes hold any of `needles`;
 * with `unpack`, gzip files are searched unpacked too.
 */
export function filesHolding(dir: string, needles: readonly string[], opts: { readonly unpack?: boolean } = {}): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return filesHolding(path, needles, opts);
    try {
      if (!e.isFile() || statSync(path).size > 5_000_000) return [];
      return contents(path, opts.unpack === true).some((text) => needles.some((n) => text.includes(n))) ? [path] : [];
    } catch {
      // Gone or unreadable since it was listed: nothing to find in it.
      return [];
    }
  });
}

/**
 * Which of `needles` (by index: never the needle itself, which is a secret) a stream holds,
 * searched as it goes with the chunks' seams overlapped; and how many bytes it had.
 */
export async function streamHolding(stream: AsyncIterable<Buffer | string>, needles: readonly string[]): Promise<{ found: number[]; bytes: number }> {
  const wanted = needles.map((n) => Buffer.from(n, "latin1"));
  const overlap = Math.max(0, ...wanted.map((w) => w.length)) - 1;
  const found = new Set<number>();
  let tail = Buffer.alloc(0);
  let bytes = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk, "latin1") : chunk;
    bytes += buffer.length;
    const window = Buffer.concat([tail, buffer]);
    wanted.forEach((w, i) => {
      if (!found.has(i) && window.includes(w)) found.add(i);
    });
    tail = window.subarray(Math.max(0, window.length - overlap));
  }
  return { found: [...found].sort((a, b) => a - b), bytes };
}
