/**
 * Nx-shaped artifacts for tests and benchmarks, made the way Nx 24 makes
 * them (ustar entries for the outputs, then `terminalOutput` and a 4-byte
 * `code`, the end-of-archive blocks, all gzip-compressed), without running nx.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { gzipSync, createGzip } from "node:zlib";

const BLOCK = 512;

export function tarHeader(name: string, size: number, type = "0"): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, "utf8");
  block.write("0000644\0", 100, "latin1");
  block.write("0000000\0", 108, "latin1");
  block.write("0000000\0", 116, "latin1");
  block.write(`${size.toString(8).padStart(11, "0")}\0`, 124, "latin1");
  block.write("00000000000\0", 136, "latin1");
  block.write("        ", 148, "latin1");
  block.write(type, 156, "latin1");
  block.write("ustar\0" + "00", 257, "latin1");
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return block;
}

const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

/** An entry: a regular file unless `type` says otherwise ("L" a GNU long name, "x" a pax header). */
export function tarEntry(name: string, data: Buffer, type = "0"): Buffer {
  return Buffer.concat([tarHeader(name, data.length, type), data, padding(data.length)]);
}

const exitCode = (code: number) => {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32LE(code);
  return bytes;
};

/** The uncompressed tar of an artifact with the given output files. */
export function nxTar(files: Record<string, string | Buffer> = {}, terminalOutput = "done\n"): Buffer {
  return Buffer.concat([
    ...Object.entries(files).map(([name, data]) => tarEntry(name, Buffer.from(data))),
    tarEntry("terminalOutput", Buffer.from(terminalOutput)),
    tarEntry("code", exitCode(0)),
    Buffer.alloc(2 * BLOCK),
  ]);
}

export function nxArtifact(files: Record<string, string | Buffer> = {}, terminalOutput?: string): Buffer {
  return gzipSync(nxTar(files, terminalOutput));
}

/**
 * Writes an artifact of just under `bytes` bytes (random, so gzip cannot
 * shrink it; stored deflate blocks add a little) to a file without holding it
 * in memory.
 */
export async function writeLargeArtifact(path: string, bytes: number): Promise<void> {
  const payload = Math.max(0, bytes - Math.ceil(bytes / 1000) - 8 * BLOCK - 8192);
  async function* parts() {
    yield tarHeader("dist/big.bin", payload);
    for (let left = payload; left > 0; left -= 1 << 20) yield randomBytes(Math.min(left, 1 << 20));
    yield padding(payload);
    yield tarEntry("terminalOutput", Buffer.from("big\n"));
    yield tarEntry("code", exitCode(0));
    yield Buffer.alloc(2 * BLOCK);
  }
  await pipeline(parts, createGzip({ level: 1 }), createWriteStream(path));
}

/**
 * A valid Nx artifact whose one output is `unpackedBytes` of zeros (a multiple
 * of 64 MiB): gzip members, one per 64 MiB, concatenated (gzip allows it), so
 * it is made in a fraction of a second and weighs about a thousandth.
 */
export function gzipBomb(unpackedBytes: number): Buffer {
  const piece = 64 * 1024 * 1024;
  if (unpackedBytes % piece !== 0) throw new Error(`gzipBomb: ${unpackedBytes} is not a multiple of 64 MiB`);
  const zeros = gzipSync(Buffer.alloc(piece), { level: 9 });
  return Buffer.concat([
    gzipSync(tarHeader("dist/zeros.bin", unpackedBytes)),
    ...Array.from({ length: unpackedBytes / piece }, () => zeros),
    gzipSync(Buffer.concat([tarEntry("terminalOutput", Buffer.from("done\n")), tarEntry("code", exitCode(0)), Buffer.alloc(2 * BLOCK)])),
  ]);
}
