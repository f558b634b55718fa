/**
 * What Nx 24 uploads to a self-hosted cache (its native HttpRemoteCache): a
 * gzip-compressed tar archive holding the task's outputs, a `terminalOutput`
 * entry and a 4-byte `code` entry (the exit code), closed by the
 * end-of-archive blocks. Nx cannot replay anything else and fails the task
 * for good ("Failed to read entry from tarball"), so the server checks each
 * upload while it streams in, in bounded memory: gzip that inflates to the
 * end and passes its checksum, tar headers with valid checksums, entries
 * complete, no path leaving the extraction folder, both Nx entries present.
 * What it inflates is bounded (`maxUnpackedBytes`): a gzip bomb (4 MiB that
 * unpack to 4 GiB) would otherwise cost the server 20 s of CPU to check and
 * every client that replays it 4 GiB of disk. The bound bounds the check's
 * time too: the work is proportional to the bytes inflated.
 */
import { createGunzip, type Gunzip } from "node:zlib";

const BLOCK = 512;
/** GNU long names and pax headers are kept in memory; real ones are short. */
const MAX_META_BYTES = 64 * 1024;
const REQUIRED = ["terminalOutput", "code"] as const;

type TarState =
  | { readonly kind: "header" }
  | { readonly kind: "data"; readonly name: string; remaining: number; padding: number; collect?: Buffer[]; readonly use?: "longname" | "pax" | "code" }
  | { readonly kind: "ended" };

/** Walks a tar stream block by block, keeping only headers and tiny entries. */
class TarWalker {
  private state: TarState = { kind: "header" };
  private pending: Buffer = Buffer.alloc(0);
  private offset = 0;
  private zeroBlocks = 0;
  private nextName: string | undefined;
  readonly found = new Map<string, number>();
  codeSize = -1;
  problem: string | undefined;

  push(data: Buffer): void {
    if (this.problem || this.ended()) return;
    this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    while (!this.problem && !this.ended()) {
      if (this.state.kind === "header") {
        if (this.pending.length < BLOCK) break;
        this.header(this.pending.subarray(0, BLOCK));
        this.consume(BLOCK);
      } else if (this.state.kind === "data") {
        const s = this.state;
        if (s.remaining > 0) {
          const take = Math.min(s.remaining, this.pending.length);
          if (take === 0) break;
          if (s.collect) s.collect.push(Buffer.from(this.pending.subarray(0, take)));
          s.remaining -= take;
          this.consume(take);
          continue;
        }
        if (s.padding > 0) {
          const take = Math.min(s.padding, this.pending.length);
          if (take === 0) break;
          s.padding -= take;
          this.consume(take);
          continue;
        }
        this.entryDone(s);
        this.state = { kind: "header" };
      }
    }
  }

  private ended(): boolean {
    return this.state.kind === "ended";
  }

  /** Why the stream is not a complete archive, once it has all been pushed. */
  finish(): string | undefined {
    if (this.problem) return this.problem;
    if (this.state.kind === "data") return `truncated: entry ${this.state.name} ends early`;
    if (this.state.kind === "header") return "truncated: the tar archive has no end-of-archive blocks";
    const missing = REQUIRED.filter((name) => !this.found.has(name));
    if (missing.length) return `it has no ${missing.join(" or ")} entry (Nx stores the task's output and exit code there)`;
    if (this.codeSize !== 4) return `its code entry holds ${this.codeSize} bytes, not the 4 of an exit code`;
    return undefined;
  }

  private consume(n: number): void {
    this.pending = this.pending.subarray(n);
    this.offset += n;
  }

  private header(block: Buffer): void {
    if (block.every((b) => b === 0)) {
      if (++this.zeroBlocks === 2) this.state = { kind: "ended" };
      return;
    }
    if (this.zeroBlocks > 0) return this.fail(`a lone zero block at offset ${this.offset - BLOCK} of the tar archive`);
    const stored = parseOctal(block.subarray(148, 156));
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (block[i] as number);
    if (stored === undefined || stored !== sum) return this.fail(`not a tar archive (bad header checksum at offset ${this.offset})`);
    const size = parseSize(block.subarray(124, 136));
    if (size === undefined) return this.fail(`bad entry size in the tar header at offset ${this.offset}`);
    const type = String.fromCharCode(block[156] as number);
    const ustar = block.subarray(257, 262).toString("latin1") === "ustar";
    const prefix = ustar ? cString(block.subarray(345, 500)) : "";
    const ownName = cString(block.subarray(0, 100));
    const name = this.nextName ?? (prefix ? `${prefix}/${ownName}` : ownName);
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    const use = type === "L" ? "longname" : type === "x" ? "pax" : undefined;
    if (use) {
      if (size > MAX_META_BYTES) return this.fail(`a tar ${use} header of ${size} bytes`);
      this.state = { kind: "data", name: `(${use} header)`, remaining: size, padding, collect: [], use };
      return;
    }
    this.nextName = undefined;
    if (type === "g") {
      this.state = { kind: "data", name: "(global header)", remaining: size, padding };
      return;
    }
    if (name.startsWith("/") || name.split("/").includes("..")) return this.fail(`entry ${JSON.stringify(name)} would be written outside the cache folder`);
    const regular = type === "0" || type === "\0";
    if (regular) this.found.set(name.replace(/^\.\//, ""), size);
    const isCode = regular && name.replace(/^\.\//, "") === "code";
    if (isCode) this.codeSize = size;
    this.state = { kind: "data", name, remaining: size, padding, ...(isCode && size <= 16 ? { collect: [], use: "code" as const } : {}) };
  }

  private entryDone(s: Extract<TarState, { kind: "data" }>): void {
    if (!s.collect) return;
    const data = Buffer.concat(s.collect).toString("utf8");
    if (s.use === "longname") this.nextName = data.replace(/\0+$/, "");
    if (s.use === "pax") {
      const path = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data);
      if (path) this.nextName = path[1];
    }
  }

  private fail(problem: string): void {
    this.problem = problem;
  }
}

const cString = (bytes: Buffer): string => {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString("utf8");
};

function parseOctal(field: Buffer): number | undefined {
  const text = field.toString("latin1").replace(/[\0 ]+$/, "").replace(/^ +/, "");
  return /^[0-7]+$/.test(text) ? parseInt(text, 8) : undefined;
}

/** Entry sizes are octal, or base-256 (high bit set) for large ones. */
function parseSize(field: Buffer): number | undefined {
  if (((field[0] as number) & 0x80) === 0) return parseOctal(field);
  let value = (field[0] as number) & 0x7f;
  for (let i = 1; i < field.length; i++) value = value * 256 + (field[i] as number);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Checks an upload chunk by chunk; `end()` says why it is not an Nx artifact, or undefined when it is one. */
export class NxArtifactCheck {
  private readonly gunzip: Gunzip = createGunzip();
  private readonly tar = new TarWalker();
  private bytes = 0;
  private unpacked = 0;
  private head: Buffer = Buffer.alloc(0);
  private gzipProblem: string | undefined;
  /** Ends the wait for the chunk being inflated when inflating stops early. */
  private stopWaiting: (() => void) | undefined;
  /** Inflated past the bound: refused as too large, not as malformed. */
  tooLargeUnpacked = false;

  constructor(private readonly maxUnpackedBytes: number) {
    this.gunzip.on("data", (data: Buffer) => {
      if (this.tooLargeUnpacked) return;
      this.unpacked += data.length;
      if (this.unpacked > this.maxUnpackedBytes) {
        // Stop inflating now, in the middle of the chunk: one chunk of a bomb inflates a thousandfold.
        this.tooLargeUnpacked = true;
        this.gunzip.destroy();
        this.stopWaiting?.();
        return;
      }
      this.tar.push(data);
    });
    this.gunzip.on("error", (e: NodeJS.ErrnoException) => {
      this.gzipProblem ??= e.code === "Z_BUF_ERROR" ? "truncated: the gzip stream ends early" : `broken gzip stream (${e.message})`;
    });
  }

  /** True once the upload is known to be bad; the rest need not be stored. */
  get failed(): boolean {
    return this.tooLargeUnpacked || this.gzipProblem !== undefined || this.tar.problem !== undefined;
  }

  async write(chunk: Buffer): Promise<void> {
    this.bytes += chunk.length;
    if (this.head.length < 2) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, 2)]);
      if (this.head.length >= 2 && !(this.head[0] === 0x1f && this.head[1] === 0x8b)) {
        this.gzipProblem = "it is not gzip-compressed (Nx uploads a .tar.gz)";
      }
    }
    if (this.failed) return;
    // One chunk at a time: the callback comes once zlib has taken it (or failed).
    await new Promise<void>((ok) => {
      this.stopWaiting = ok;
      this.gunzip.write(chunk, () => ok());
    });
    this.stopWaiting = undefined;
  }

  async end(): Promise<string | undefined> {
    if (this.bytes === 0) return "the body is empty";
    if (!this.failed) {
      this.gunzip.end();
      await new Promise<void>((ok) => {
        this.gunzip.once("end", ok);
        this.gunzip.once("error", () => ok());
        this.gunzip.resume();
      });
    }
    this.gunzip.destroy();
    if (this.tooLargeUnpacked) return `it unpacks to more than ${this.maxUnpackedBytes} bytes`;
    return this.gzipProblem ?? this.tar.finish();
  }

  /** Stops checking (the upload was abandoned). */
  dispose(): void {
    this.gunzip.destroy();
  }
}
