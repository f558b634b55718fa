/**
 * Reads files and folders under images/ as a pull request may have left them.
 * Only regular files and real folders count: a symbolic link is refused
 * wherever it points (into the workspace too: `.git/config` or `.env` may hold
 * a token), as are FIFOs, sockets and devices. A file is opened without
 * following a link and without blocking, and its size is checked on the open
 * file before a byte is read, so nothing but the file's own bytes ever reaches
 * a message, and nothing can stall or exhaust the reader.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readSync, type Dirent, type Stats } from "node:fs";
import { join } from "node:path";
import { IMAGES_LAYOUT, type FolderListing, type OtherEntry } from "./layout";

/**
 * The largest file under images/ that is read: the largest today is under
 * 2 KB, and a megabyte still parses and validates in milliseconds, so a
 * runaway file is refused before it can stall or exhaust the plan.
 */
export const MAX_FILE_BYTES = 1024 * 1024;

/** A file of images/ (path relative to the workspace root): its text, or why it was not read. */
export type Source =
  | { readonly kind: "read"; readonly file: string; readonly text: string }
  | { readonly kind: "refused"; readonly file: string; readonly problem: string };

/** A problem of the layout or the reader: one line, like every other problem. */
export class ImagesReadError extends Error {}

function kindOf(entry: Stats | Dirent): OtherEntry["kind"] | "file" | "folder" {
  if (entry.isSymbolicLink()) return "symbolic link";
  if (entry.isFile()) return "file";
  if (entry.isDirectory()) return "folder";
  if (entry.isFIFO()) return "FIFO";
  if (entry.isSocket()) return "socket";
  return "device";
}

/** Why `path` (relative to `root`) or a folder above it under root is not what it should be; lstat only. */
function pathProblem(root: string, path: string, want: "file" | "folder"): string | undefined {
  const parts = path.split("/");
  for (let i = 1; i <= parts.length; i++) {
    const here = parts.slice(0, i).join("/");
    const stat = lstatSync(join(root, here), { throwIfNoEntry: false });
    // Missing: the open says so.
    if (!stat) return undefined;
    const kind = kindOf(stat);
    const wanted = i === parts.length ? want : "folder";
    if (kind === wanted) continue;
    if (kind === "file" || kind === "folder") return `${here}: a ${kind}, not a ${wanted}`;
    return IMAGES_LAYOUT.notRegular(here, kind);
  }
  return undefined;
}

/** The error code of a failed system call, or the message. */
const codeOf = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? String(e);

const mib = (n: number) => `${Number((n / (1024 * 1024)).toFixed(1))} MiB`;

/**
 * A file under `root`, unless it is not a regular file of ours, too large, or
 * not UTF-8 (then one line says so). A leading byte order mark is dropped
 * (RFC 8259 lets a parser ignore it; some Windows editors write one).
 */
export function readImagesFile(root: string, file: string): Source {
  const refused = (problem: string): Source => ({ kind: "refused", file, problem });
  const top = (why: string) => refused(`${file}: (top level): ${why}`);
  try {
    const problem = pathProblem(root, file, "file");
    if (problem) return refused(problem);
  } catch (e) {
    return top(`cannot read: ${codeOf(e)}`);
  }
  let fd: number;
  try {
    // O_NOFOLLOW: a link swapped in since the check is not followed; O_NONBLOCK: a FIFO cannot block the open.
    fd = openSync(join(root, file), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = codeOf(e);
    return code === "ELOOP" ? refused(IMAGES_LAYOUT.notRegular(file, "symbolic link")) : top(`cannot read: ${code}`);
  }
  try {
    const stat = fstatSync(fd);
    const kind = kindOf(stat);
    if (kind !== "file") return refused(kind === "folder" ? `${file}: a folder, not a file` : IMAGES_LAYOUT.notRegular(file, kind));
    const tooLarge = (bytes: number) => top(`${mib(bytes)}, more than the ${mib(MAX_FILE_BYTES)} an images/ file may have`);
    if (stat.size > MAX_FILE_BYTES) return tooLarge(stat.size);
    // One byte more than the limit: a file that grows after fstat is caught too.
    const buffer = Buffer.alloc(Math.min(stat.size, MAX_FILE_BYTES) + 1);
    let length = 0;
    for (let n; length < buffer.length && (n = readSync(fd, buffer, length, buffer.length - length, null)) > 0; ) length += n;
    if (length > MAX_FILE_BYTES) return tooLarge(length);
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(buffer.subarray(0, length));
    } catch {
      return top("not UTF-8 text");
    }
    return { kind: "read", file, text };
  } catch (e) {
    return top(`cannot read: ${codeOf(e)}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * A folder's entries by kind and sorted by name. The folder and those above
 * it (under root) must be real folders: a link is refused by name.
 */
export function listImagesFolder(root: string, folder: string): FolderListing {
  const problem = pathProblem(root, folder, "folder");
  if (problem) throw new ImagesReadError(problem);
  const entries = readdirSync(join(root, folder), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  const folders: string[] = [];
  const others: OtherEntry[] = [];
  for (const entry of entries) {
    const kind = kindOf(entry);
    if (kind === "file") files.push(entry.name);
    else if (kind === "folder") folders.push(entry.name);
    else others.push({ name: entry.name, kind });
  }
  return { files, folders, others };
}
