/**
 * The cache server as its own process, started the way users start it
 * (`main.ts --config`), so what the benchmarks measure is the server's
 * memory alone: RSS from /proc, and the peak since a reset (VmHWM, reset by
 * writing 5 to clear_refs).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { PROJECT_ROOT } from "../../testing/workspace";

export interface ServerProcess {
  readonly url: string;
  readonly token: string;
  readonly pid: number;
  /** Request lines the server logged, in order. */
  readonly log: string[];
  rssBytes(): number;
  peakRssBytes(): number;
  resetPeak(): void;
  stop(): Promise<void>;
}

function status(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

export async function startServerProcess(maxBytes: number, storage: Record<string, unknown> = {}): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), "obi-cache-bench-"));
  const token = randomBytes(24).toString("hex");
  writeFileSync(join(dir, "rw"), `${token}\n`);
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({ host: "127.0.0.1", port: 0, storage: { directory: join(dir, "store"), ...storage }, readWriteTokenFile: join(dir, "rw"), maxBytes }),
  );
  const child: ResultPromise = execa("node", ["-r", "@swc-node/register", "tools/cache-server/src/main.ts", "--config", join(dir, "config.json")], {
    cwd: PROJECT_ROOT,
    reject: false,
    buffer: false,
  });
  const log: string[] = [];
  const url = await new Promise<string>((ok, fail) => {
    let pending = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const started = /nx remote cache on (http:\/\/\S+),/.exec(line);
        if (started) ok(started[1] as string);
        else log.push(line);
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => process.stderr.write(chunk));
    child.once("exit", (code) => fail(new Error(`the cache server exited (${code}) before listening`)));
  });
  const pid = child.pid as number;
  return {
    url,
    token,
    pid,
    log,
    rssBytes: () => status(pid, "VmRSS"),
    peakRssBytes: () => status(pid, "VmHWM"),
    resetPeak: () => writeFileSync(`/proc/${pid}/clear_refs`, "5"),
    async stop() {
      child.kill("SIGTERM");
      await child;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}
