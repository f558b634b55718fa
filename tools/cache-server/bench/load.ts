/**
 * Load on the cache server, through raw HTTP and through real nx:
 *
 *   npm run bench:cache-server-load -- [--clients 16] [--artifacts 50] [--size 262144] [--workspaces 4]
 *
 * Raw HTTP: `clients` clients at once, each storing `artifacts` valid Nx
 * artifacts of `size` bytes one after the other, then reading them back.
 * Real nx: `workspaces` throw-away workspaces (each its own matrix, so its own
 * hashes) run `nx run-many -t render,build-amd64` at once against the server,
 * storing every task; then each runs again with an empty local cache, so
 * every task is replayed from the server. Prints requests/s, p50/p99 latency
 * and the server process's peak RSS for each phase.
 */
import { randomBytes } from "node:crypto";
import { Agent, request } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readCommandLine } from "../../cli/cli";
import { cacheHits, createWorkspace, smallFixture, type Workspace } from "../../testing/workspace";
import { nxArtifact } from "../src/testing/artifacts";
import { mib, percentile, startServerProcess, type ServerProcess } from "./server-process";

interface Phase {
  readonly name: string;
  readonly requests: number;
  readonly seconds: number;
  readonly latenciesMs: readonly number[];
  readonly peakRss: number;
  readonly notes: string;
}

function send(agent: Agent, server: ServerProcess, method: "PUT" | "GET", hash: string, body?: Buffer): Promise<{ status: number; ms: number }> {
  const target = new URL(`/v1/cache/${hash}`, server.url);
  const started = performance.now();
  return new Promise((ok, fail) => {
    const headers: Record<string, string | number> = { Authorization: `Bearer ${server.token}` };
    if (body) headers["Content-Length"] = body.length;
    const req = request({ agent, host: target.hostname, port: target.port, path: target.pathname, method, headers }, (res) => {
      res.resume();
      res.on("end", () => ok({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    });
    req.on("error", fail);
    req.end(body);
  });
}

async function rawPhase(server: ServerProcess, method: "PUT" | "GET", clients: number, artifacts: readonly Buffer[][]): Promise<Phase> {
  server.resetPeak();
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      for (const [i, body] of (artifacts[c] ?? []).entries()) {
        const r = await send(agent, server, method, `load${c}x${i}`, method === "PUT" ? body : undefined);
        latencies.push(r.ms);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
      agent.destroy();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const notes = [...statuses].map(([s, n]) => `${n}×${s}`).join(", ");
  return { name: `raw HTTP ${method}`, requests: latencies.length, seconds, latenciesMs: latencies, peakRss: server.peakRssBytes(), notes };
}

/** Server-side latencies of the request lines logged since `from` (`GET /v1/cache/x 200 617B 3ms`). */
function loggedLatencies(server: ServerProcess, from: number, method: string): number[] {
  return server.log
    .slice(from)
    .filter((line) => line.startsWith(`${method} /v1/cache/`))
    .map((line) => Number(/ (\d+)ms/.exec(line)?.[1] ?? NaN));
}

const scratch: string[] = [];

async function nxPhase(server: ServerProcess, workspaces: readonly Workspace[], method: "PUT" | "GET"): Promise<Phase> {
  server.resetPeak();
  const from = server.log.length;
  const started = performance.now();
  const runs = await Promise.all(
    workspaces.map((ws) => {
      const env: Record<string, string> = { NX_SELF_HOSTED_REMOTE_CACHE_SERVER: server.url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: server.token };
      // The read phase starts from an empty local cache, so every task has to come from the server.
      if (method === "GET") scratch.push((env.NX_CACHE_DIRECTORY = mkdtempSync(join(tmpdir(), "obi-nx-cache-load-"))));
      return ws.nxOk(["run-many", "-t", "render,build-amd64", "--outputStyle=static"], env);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const latencies = loggedLatencies(server, from, method);
  const remote = runs.reduce((n, r) => n + [...cacheHits(r.all).values()].filter((w) => w === "remote").length, 0);
  const statuses = server.log.slice(from).filter((l) => l.startsWith(method)).map((l) => l.split(" ")[2]);
  const counts = [...new Set(statuses)].map((s) => `${statuses.filter((x) => x === s).length}×${s}`).join(", ");
  return {
    name: `nx ${method === "PUT" ? "store" : "replay"} (${workspaces.length} workspaces)`,
    requests: latencies.length,
    seconds,
    latenciesMs: latencies,
    peakRss: server.peakRssBytes(),
    notes: `${counts}${method === "GET" ? `; ${remote} tasks replayed from the server` : ""}; latency measured by the server`,
  };
}

async function main() {
  const values = readCommandLine({
    name: "bench:cache-server-load",
    usage: "npm run bench:cache-server-load [-- --clients=16 --artifacts=50 --size=262144 --workspaces=4]",
    summary: "Loads the remote cache server with concurrent clients and real nx runs; prints throughput, latencies and memory.",
    options: {
      clients: { kind: "count", value: "n", default: 16, description: "concurrent clients storing and reading artifacts" },
      artifacts: { kind: "count", value: "n", default: 50, description: "artifacts per client" },
      size: { kind: "count", value: "bytes", default: 256 * 1024, description: "size of each artifact" },
      workspaces: { kind: "count", value: "n", default: 4, description: "nx workspaces storing and replaying through the server" },
    },
  } as const);
  const clients = values.clients;
  const perClient = values.artifacts;
  const size = values.size;
  const workspaceCount = values.workspaces;

  const server = await startServerProcess(100 * 1024 * 1024);
  const workspaces: Workspace[] = [];
  try {
    await new Promise((r) => setTimeout(r, 500));
    const idle = server.rssBytes();
    const artifacts = Array.from({ length: clients }, () => Array.from({ length: perClient }, () => nxArtifact({ "dist/blob.bin": randomBytes(size) })));
    const phases: Phase[] = [];
    phases.push(await rawPhase(server, "PUT", clients, artifacts));
    phases.push(await rawPhase(server, "GET", clients, artifacts));

    for (let i = 0; i < workspaceCount; i++) {
      const fixture = smallFixture();
      const ws = createWorkspace({
        fixture: { ...fixture, opamRepository: { ...fixture.opamRepository, commit: (0x1000 + i).toString(16).padStart(40, "0") } },
        pluginOptions: { dryRun: true },
      });
      workspaces.push(ws);
    }
    phases.push(await nxPhase(server, workspaces, "PUT"));
    phases.push(await nxPhase(server, workspaces, "GET"));

    console.log(`cache server load (server idle RSS ${mib(idle)}; raw HTTP: ${clients} clients × ${perClient} artifacts of ${size} bytes)`);
    console.log("| phase | requests | requests/s | p50 | p99 | peak RSS | |");
    console.log("| --- | --- | --- | --- | --- | --- | --- |");
    for (const p of phases) {
      const rate = p.requests / p.seconds;
      console.log(
        `| ${p.name} | ${p.requests} | ${rate.toFixed(0)} | ${percentile(p.latenciesMs, 50).toFixed(1)} ms | ${percentile(p.latenciesMs, 99).toFixed(1)} ms | ${mib(p.peakRss)} | ${p.notes} |`,
      );
    }
  } finally {
    for (const ws of workspaces) ws.dispose();
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
    await server.stop();
  }
}

main().catch((e: Error) => {
  console.error(`bench: ${e.message}`);
  process.exitCode = 1;
});
