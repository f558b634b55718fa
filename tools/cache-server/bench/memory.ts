/**
 * Peak memory of the cache server under parallel uploads of the largest
 * artifact it accepts:
 *
 *   npm run bench:cache-server -- [--uploads 40] [--max-bytes 104857600]
 *
 * Starts the server as its own process, measures its idle RSS after a warm-up
 * request, resets the peak, sends the uploads at once (each a valid Nx
 * artifact of about maxBytes, streamed from a file), and prints the idle RSS,
 * the peak RSS during the uploads and the difference against the target
 * (idle + 64 MiB).
 */
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nxArtifact, writeLargeArtifact } from "../src/testing/artifacts";
import { readCommandLine } from "../../cli/cli";
import { mib, startServerProcess } from "./server-process";

const TARGET_BYTES = 64 * 1024 * 1024;

function upload(url: string, token: string, hash: string, file: string): Promise<number> {
  return new Promise((ok, fail) => {
    const target = new URL(`/v1/cache/${hash}`, url);
    const req = request(
      { host: target.hostname, port: target.port, path: target.pathname, method: "PUT", headers: { Authorization: `Bearer ${token}`, "Content-Length": statSync(file).size } },
      (res) => {
        res.resume();
        res.on("end", () => ok(res.statusCode ?? 0));
      },
    );
    req.on("error", fail);
    createReadStream(file).pipe(req);
  });
}

async function main() {
  const values = readCommandLine({
    name: "bench:cache-server",
    usage: "npm run bench:cache-server [-- --uploads=40 --max-bytes=104857600]",
    summary: "Measures the remote cache server's memory while it stores and serves artifacts as large as it accepts.",
    options: {
      uploads: { kind: "count", value: "n", default: 40, description: "how many uploads and reads of the largest artifact" },
      "max-bytes": { kind: "count", value: "bytes", default: 100 * 1024 * 1024, description: "the largest artifact the server accepts, and the size uploaded" },
    },
  } as const);
  const uploads = values.uploads;
  const maxBytes = values["max-bytes"];
  const work = mkdtempSync(join(tmpdir(), "obi-cache-bench-artifact-"));
  const file = join(work, "artifact.tar.gz");
  await writeLargeArtifact(file, maxBytes);
  const size = statSync(file).size;
  const server = await startServerProcess(maxBytes);
  try {
    // Warm-up: one small upload and read, so idle means "has served".
    const small = join(work, "small.tar.gz");
    writeFileSync(small, nxArtifact({ "dist/warm": "up" }));
    if ((await upload(server.url, server.token, "warmup", small)) !== 200) throw new Error("the warm-up upload failed");
    await new Promise((r) => setTimeout(r, 1000));
    const idle = server.rssBytes();
    server.resetPeak();
    let sampledPeak = idle;
    const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, server.rssBytes())), 20);
    const started = Date.now();
    const statuses = await Promise.all(Array.from({ length: uploads }, (_, i) => upload(server.url, server.token, `bench${i}`, file)));
    const seconds = (Date.now() - started) / 1000;
    clearInterval(sampler);
    const peak = Math.max(server.peakRssBytes(), sampledPeak);
    const stored = statuses.filter((s) => s === 200).length;
    console.log(`cache server memory: ${uploads} parallel uploads of ${size} bytes (maxBytes ${maxBytes}), directory store`);
    console.log(`  uploads stored:  ${stored}/${uploads} (statuses: ${[...new Set(statuses)].join(", ")}) in ${seconds.toFixed(1)} s, ${mib((size * uploads) / seconds)}/s`);
    console.log(`  idle RSS:        ${mib(idle)}`);
    console.log(`  peak RSS:        ${mib(peak)} (VmHWM since reset, and sampled every 20 ms)`);
    console.log(`  peak - idle:     ${mib(peak - idle)} (target ≤ ${mib(TARGET_BYTES)}: ${peak - idle <= TARGET_BYTES ? "met" : "NOT met"})`);
    if (stored !== uploads) process.exitCode = 1;
  } finally {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  console.error(`bench: ${e.message}`);
  process.exitCode = 1;
});
