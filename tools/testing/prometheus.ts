/**
 * Debian's Prometheus for the monitoring tests (tools/ci/setup-prometheus.sh):
 * promtool's lint of a scrape, and a real server on loopback that scrapes
 * given targets and answers queries. Missing, the tests fail; never skipped.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, execaSync, type ResultPromise } from "execa";

export function requirePrometheus(): void {
  for (const tool of ["prometheus", "promtool"]) {
    const r = execaSync(tool, ["--version"], { reject: false });
    if (r.exitCode !== 0) throw new Error(`the monitoring tests need ${tool}; run tools/ci/setup-prometheus.sh as root`);
  }
}

/** promtool's lint of a scrape: its problems, one per line (empty: it passes). */
export async function promtoolCheckMetrics(text: string): Promise<{ exitCode: number; problems: string }> {
  const r = await execa("promtool", ["check", "metrics"], { input: text, reject: false, timeout: 30_000 });
  return { exitCode: r.exitCode ?? 1, problems: `${r.stdout}${r.stderr}`.trim() };
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject).listen(0, "127.0.0.1", () => {
      const address = s.address();
      s.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });

export interface Prometheus {
  readonly url: string;
  /** An instant query's vector, as [labels, value] pairs. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  /** Waits (bounded) until the query gives a non-empty answer that passes `ok`. */
  waitFor(promql: string, ok?: (v: { metric: Record<string, string>; value: number }[]) => boolean, ms?: number): Promise<{ metric: Record<string, string>; value: number }[]>;
  stop(): Promise<void>;
}

/** A Prometheus on loopback scraping each job's targets every second, with a storage folder of its own. */
export async function startPrometheus(jobs: Record<string, readonly string[]>): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), "obi-prom-"));
  const config = [
    "global:",
    "  scrape_interval: 1s",
    "  scrape_timeout: 1s",
    "scrape_configs:",
    ...Object.entries(jobs).flatMap(([job, targets]) => [`  - job_name: ${job}`, "    static_configs:", `      - targets: [${targets.map((t) => JSON.stringify(t)).join(", ")}]`]),
  ].join("\n");
  writeFileSync(join(dir, "prometheus.yml"), config + "\n");
  const port = await freePort();
  const child: ResultPromise = execa(
    "prometheus",
    [`--config.file=${join(dir, "prometheus.yml")}`, `--web.listen-address=127.0.0.1:${port}`, `--storage.tsdb.path=${join(dir, "data")}`, "--log.level=warn"],
    { reject: false, all: true },
  );
  const url = `http://127.0.0.1:${port}`;
  const query = async (promql: string) => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (body.status !== "success") throw new Error(`prometheus: ${promql}: ${body.error ?? res.status}`);
    return (body.data?.result ?? []).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  };
  const stop = async () => {
    child.kill("SIGTERM");
    await Promise.race([child, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus did not start on ${url}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    query,
    async waitFor(promql, ok = () => true, ms = 30_000) {
      const end = Date.now() + ms;
      let last: Awaited<ReturnType<typeof query>> = [];
      while (Date.now() < end) {
        last = await query(promql);
        if (last.length > 0 && ok(last)) return last;
        await new Promise((r) => setTimeout(r, 500));
      }
      throw new Error(`prometheus: no satisfying answer to ${promql} within ${ms} ms; last: ${JSON.stringify(last)}`);
    },
    stop,
  };
}
