/**
 * The Nx artifact check on the tar features Nx's writer uses for long paths
 * (GNU long names, pax headers), fed in awkward chunk sizes.
 */
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { NxArtifactCheck } from "./artifact";
import { nxTar, tarEntry } from "./testing/artifacts";

async function check(bytes: Buffer, chunk = 7, maxUnpackedBytes = 1 << 30): Promise<string | undefined> {
  const c = new NxArtifactCheck(maxUnpackedBytes);
  for (let i = 0; i < bytes.length; i += chunk) await c.write(bytes.subarray(i, i + chunk));
  return c.end();
}

const longName = (name: string) => tarEntry("././@LongLink", Buffer.from(`${name}\0`), "L");
/** A pax record: its length counts itself. */
function paxPath(path: string): Buffer {
  const rest = ` path=${path}\n`;
  let length = rest.length + 1;
  while (`${length}${rest}`.length !== length) length++;
  return tarEntry("PaxHeader", Buffer.from(`${length}${rest}`), "x");
}

describe("the Nx artifact check", () => {
  it("accepts an artifact with long paths, in any chunking", async () => {
    const deep = `dist/${"very-long-folder-name/".repeat(8)}file.txt`;
    const tar = Buffer.concat([longName(deep), tarEntry(deep.slice(0, 100), Buffer.from("x")), paxPath(deep), tarEntry("short", Buffer.from("y")), nxTar()]);
    for (const chunk of [1, 511, 513, 65536]) expect(await check(gzipSync(tar), chunk), String(chunk)).toBeUndefined();
  });

  it("refuses a long name that leaves the cache folder", async () => {
    const tar = Buffer.concat([longName("dist/../../../etc/passwd"), tarEntry("dist/harmless", Buffer.from("x")), nxTar()]);
    expect(await check(gzipSync(tar))).toMatch(/outside the cache folder/);
  });

  it("refuses a code entry that is not 4 bytes", async () => {
    const tar = Buffer.concat([tarEntry("terminalOutput", Buffer.from("x")), tarEntry("code", Buffer.from("0")), Buffer.alloc(1024)]);
    expect(await check(gzipSync(tar))).toMatch(/code entry holds 1 bytes/);
  });

  it("stops inflating past its bound, in the middle of a chunk, and says so", async () => {
    const tar = nxTar({ "dist/zeros": Buffer.alloc(8 << 20) });
    expect(await check(gzipSync(tar), 65536, 9 << 20)).toBeUndefined();
    // The whole bomb in one chunk: the check stops at the bound, not after inflating all of it.
    expect(await check(gzipSync(tar), 1 << 30, 1 << 20)).toBe(`it unpacks to more than ${1 << 20} bytes`);
  });
});
