/**
 * What the plugin costs Nx, on the full matrix, against the targets of issue 8
 * ("Fast to start"). Every measure runs once per round and rounds interleave,
 * so load from other processes falls on all of them alike; it prints medians
 * of wall time and CPU time (user + system, from GNU time when installed), and
 * peak memory (RSS of the largest process), then the ratios and their targets:
 *   1. `nx show projects`, cold (no daemon, after `nx reset`), against the same
 *      in an otherwise empty workspace with Nx's defaults: ≤ 1.1×;
 *   2. `nx run-many -t render` with every task cached, against `nx show projects`
 *      in the same state: ≤ 1.2×;
 *   3. createNodes for the full matrix, first call in a fresh process: ≤ 50 ms;
 * and for context: the same empty workspace with a one-project TypeScript
 * plugin (what plugin isolation costs any TypeScript plugin), and a cold
 * `run-many -t render`. The fourth ratio is tools/bench/build.ts's.
 *
 *   npm run bench:nx [-- --runs 5]
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execaSync } from "execa";
import { IMAGES_LAYOUT } from "../../libs/matrix/src";
import { listImagesFolder } from "../../libs/matrix/src/read";
import { readCommandLine } from "../cli/cli";
import { createWorkspace, PROJECT_ROOT } from "../testing/workspace";

const values = readCommandLine({
  name: "bench:nx",
  usage: "npm run bench:nx [-- --runs=5]",
  summary: "Times what the plugin costs Nx on the full matrix (nx show projects, run-many -t render, createNodes); prints medians.",
  options: { runs: { kind: "count", value: "n", default: 5, description: "how many times to measure each command" } },
} as const);
const runs = values.runs;
const NX = join(PROJECT_ROOT, "node_modules/.bin/nx");
const ENV = { NX_DAEMON: "false", NX_NO_CLOUD: "true", NX_TUI: "false" };
const GNU_TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

interface Sample {
  seconds: number;
  cpuSeconds?: number;
  peakKb?: number;
}

function timed(cwd: string, args: string[], env: Record<string, string> = {}): Sample {
  const start = process.hrtime.bigint();
  const result = GNU_TIME
    ? execaSync(GNU_TIME, ["-f", "BENCH %M %U %S", NX, ...args], { cwd, env: { ...ENV, ...env }, reject: false })
    : execaSync(NX, args, { cwd, env: { ...ENV, ...env }, reject: false });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.exitCode !== 0) throw new Error(`nx ${args.join(" ")} failed in ${cwd}:\n${String(result.stderr).slice(-2000)}`);
  const m = /BENCH (\d+) ([\d.]+) ([\d.]+)/.exec(String(result.stderr));
  return m ? { seconds, peakKb: Number(m[1]), cpuSeconds: Number(m[2]) + Number(m[3]) } : { seconds };
}

const middle = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

function median(samples: Sample[]): Sample {
  const cpu = samples.map((s) => s.cpuSeconds).filter((c): c is number => c !== undefined);
  const peaks = samples.map((s) => s.peakKb).filter((p): p is number => p !== undefined);
  return {
    seconds: middle(samples.map((s) => s.seconds)),
    ...(cpu.length ? { cpuSeconds: middle(cpu) } : {}),
    ...(peaks.length ? { peakKb: Math.max(...peaks) } : {}),
  };
}

const reset = (cwd: string, env: Record<string, string> = {}) => execaSync(NX, ["reset"], { cwd, env: { ...ENV, ...env }, reject: false });

/** A workspace with nothing but node_modules, git and the given nx.json: no .env, so Nx's defaults. */
function bareWorkspace(nxJson: object, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "obi-bare-"));
  writeFileSync(join(dir, "package.json"), '{ "name": "bare", "private": true }\n');
  writeFileSync(join(dir, "nx.json"), JSON.stringify(nxJson));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  symlinkSync(join(PROJECT_ROOT, "node_modules"), join(dir, "node_modules"));
  execaSync("git", ["init", "-q"], { cwd: dir });
  return dir;
}

/** createNodes through the plugin's entry point as Nx loads it, in a fresh process, with every matrix file. */
function probeCreateNodes(root: string): { loadMs: number; firstMs: number; warmMs: number; projects: number } {
  const nxJson = JSON.parse(readFileSync(join(root, "nx.json"), "utf8")) as { plugins: { plugin: string; options?: unknown }[] };
  const entry = nxJson.plugins[0] as { plugin: string; options?: unknown };
  const files = [
    ...IMAGES_LAYOUT.distroFolders(listImagesFolder(root, IMAGES_LAYOUT.dir))
      .map((d) => IMAGES_LAYOUT.distroFile(d))
      .filter((file) => existsSync(join(root, file))),
    IMAGES_LAYOUT.compilers,
    IMAGES_LAYOUT.opam,
    IMAGES_LAYOUT.opamRepository,
  ];
  const probe = `
    const args = [${JSON.stringify(files)}, ${JSON.stringify(entry.options ?? {})}, { workspaceRoot: ${JSON.stringify(root)}, nxJsonConfiguration: {} }];
    let t = performance.now();
    const plugin = require(${JSON.stringify(join(root, entry.plugin))});
    const loadMs = performance.now() - t;
    const createNodes = (plugin.createNodes ?? plugin.createNodesV2)[1];
    const call = () => { const t = performance.now(); const r = createNodes(...args); return [performance.now() - t, r]; };
    const [firstMs, result] = call();
    const warm = []; for (let i = 0; i < 10; i++) warm.push(call()[0]); warm.sort((a, b) => a - b);
    const projects = result.reduce((n, [, r]) => n + Object.keys(r.projects ?? {}).length, 0);
    console.log(JSON.stringify({ loadMs, firstMs, warmMs: warm[5], projects }));`;
  return JSON.parse(execaSync("node", ["-e", probe], { cwd: root }).stdout) as { loadMs: number; firstMs: number; warmMs: number; projects: number };
}

const ws = createWorkspace();
const empty = bareWorkspace({});
const trivial = bareWorkspace({ plugins: ["./plugin.ts"] }, {
  "tsconfig.base.json": "{}\n",
  "images/one/image.json": "{}\n",
  "plugin.ts": 'export const createNodesV2 = ["images/*/image.json", (files: string[]) => files.map((f) => [f, { projects: { "images/one": { name: "one" } } }])];\n',
});
// The task cache of the workspace's own, so runs neither read nor fill the per-user one.
const WS_ENV = { NX_CACHE_DIRECTORY: ws.path(".nx/cache") };
try {
  const loadBefore = loadavg()[0] ?? 0;
  const s = { ours: [] as Sample[], empty: [] as Sample[], floor: [] as Sample[], renderCold: [] as Sample[], renderCached: [] as Sample[], showSame: [] as Sample[] };
  const nodes: ReturnType<typeof probeCreateNodes>[] = [];
  for (let round = 0; round < runs; round++) {
    reset(ws.dir, WS_ENV);
    s.ours.push(timed(ws.dir, ["show", "projects"], WS_ENV));
    reset(empty);
    s.empty.push(timed(empty, ["show", "projects"]));
    reset(trivial);
    s.floor.push(timed(trivial, ["show", "projects"]));
    rmSync(ws.path("dist"), { recursive: true, force: true });
    s.renderCold.push(timed(ws.dir, ["run-many", "-t", "render"], WS_ENV));
    // Same state for both: graph cache written, every render in the task cache.
    s.renderCached.push(timed(ws.dir, ["run-many", "-t", "render"], WS_ENV));
    s.showSame.push(timed(ws.dir, ["show", "projects"], WS_ENV));
    nodes.push(probeCreateNodes(ws.dir));
  }
  const m = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, median(v)])) as Record<keyof typeof s, Sample>;
  const first = middle(nodes.map((n) => n.firstMs));

  const version = /\d+\.\d+\.\d+\S*/.exec(execaSync(NX, ["--version"], { cwd: ws.dir, env: ENV }).stdout)?.[0] ?? "?";
  const row = (label: string, x: Sample) =>
    `  ${label.padEnd(44)} ${x.seconds.toFixed(2).padStart(6)} s ${x.cpuSeconds === undefined ? "" : `${x.cpuSeconds.toFixed(2).padStart(6)} s`}${x.peakKb ? `  ${(x.peakKb / 1024).toFixed(0).padStart(4)} MiB` : ""}`;
  const ratio = (n: string, label: string, value: number, target: number, detail: string) =>
    `  ${n}. ${label.padEnd(46)} ${value.toFixed(2).padStart(5)}x  target <= ${target.toFixed(2)}x  ${value <= target ? "met" : "NOT met"}   ${detail}`;
  const cpuRatio = (a: Sample, b: Sample) => (a.cpuSeconds && b.cpuSeconds ? `(cpu ${(a.cpuSeconds / b.cpuSeconds).toFixed(2)}x)` : "");

  console.log(`nx benchmark: full matrix (${nodes[0]?.projects ?? "?"} projects), Nx ${version}, ${cpus().length} cores, ${runs} rounds (medians), no daemon`);
  console.log(`  load average ${loadBefore.toFixed(1)} before, ${(loadavg()[0] ?? 0).toFixed(1)} after`);
  console.log(`  ${"".padEnd(44)}   wall      cpu      peak`);
  console.log(row("nx show projects, cold (after nx reset)", m.ours));
  console.log(row("same, empty workspace, Nx's defaults", m.empty));
  console.log(row("same, one-project TS plugin, Nx's defaults", m.floor));
  console.log(row("nx run-many -t render, cold", m.renderCold));
  console.log(row("nx run-many -t render, all cached", m.renderCached));
  console.log(row("nx show projects, same state", m.showSame));
  console.log(`  createNodes in a fresh process: loading ${middle(nodes.map((n) => n.loadMs)).toFixed(0)} ms, first call ${first.toFixed(0)} ms, warm ${middle(nodes.map((n) => n.warmMs)).toFixed(0)} ms`);
  console.log("ratios (wall-time medians of this run):");
  console.log(ratio("1", "show projects cold / empty workspace", m.ours.seconds / m.empty.seconds, 1.1, cpuRatio(m.ours, m.empty)));
  console.log(ratio("2", "run-many -t render cached / show projects", m.renderCached.seconds / m.showSame.seconds, 1.2, cpuRatio(m.renderCached, m.showSame)));
  console.log(ratio("3", "createNodes first call / 50 ms", first / 50, 1, `(${first.toFixed(0)} ms)`));
  console.log("  4. bench:build (npm run bench:build) prints the fourth.");
} finally {
  ws.dispose();
  rmSync(empty, { recursive: true, force: true });
  rmSync(trivial, { recursive: true, force: true });
}
