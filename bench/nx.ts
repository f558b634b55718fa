/**
 * What the plugin costs Nx, on the full matrix. Prints medians of N runs and
 * peak memory (RSS of the nx process, from GNU time when installed):
 *   - `nx show projects`, cold (no daemon, after `nx reset`), and the same in an
 *     otherwise empty workspace of the same Nx version: the ratio is the plugin's cost;
 *     and in a workspace whose only plugin is a one-project TypeScript plugin, the
 *     floor any TypeScript inference plugin pays (a worker process and a transpiler);
 *   - `nx run-many -t render`, cold and fully cached;
 *   - createNodes alone, in a fresh process (first call) and warm.
 *
 *   npm run bench:nx [-- --runs 5]
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execaSync } from "execa";
import { readCommandLine } from "../tools/cli";
import { createWorkspace, PROJECT_ROOT } from "../tools/testing/workspace";

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
  peakKb?: number;
}

function timed(cwd: string, args: string[], before?: () => void): Sample {
  before?.();
  const start = process.hrtime.bigint();
  const result = GNU_TIME
    ? execaSync(GNU_TIME, ["-f", "PEAK %M", NX, ...args], { cwd, env: ENV, reject: false })
    : execaSync(NX, args, { cwd, env: ENV, reject: false });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.exitCode !== 0) throw new Error(`nx ${args.join(" ")} failed:\n${String(result.stderr).slice(-2000)}`);
  const peak = /PEAK (\d+)/.exec(String(result.stderr))?.[1];
  return { seconds, ...(peak ? { peakKb: Number(peak) } : {}) };
}

function median(samples: Sample[]): Sample {
  const sorted = [...samples].sort((a, b) => a.seconds - b.seconds);
  const mid = sorted[Math.floor(sorted.length / 2)] as Sample;
  const peaks = samples.map((s) => s.peakKb).filter((p): p is number => p !== undefined);
  return { seconds: mid.seconds, ...(peaks.length ? { peakKb: Math.max(...peaks) } : {}) };
}

const show = (s: Sample) => `${s.seconds.toFixed(2)} s${s.peakKb ? `, peak ${(s.peakKb / 1024).toFixed(0)} MiB` : ""}`;
const reset = (cwd: string) => () => execaSync(NX, ["reset"], { cwd, env: ENV, reject: false });

/** A workspace with nothing but node_modules, git and the given nx.json. */
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

const ws = createWorkspace();
const empty = bareWorkspace({});
const trivial = bareWorkspace({ plugins: ["./plugin.ts"] }, {
  "tsconfig.base.json": "{}\n",
  "images/one/image.json": "{}\n",
  "plugin.ts": 'export const createNodesV2 = ["images/*/image.json", (files: string[]) => files.map((f) => [f, { projects: { "images/one": { name: "one" } } }])];\n',
});
try {
  const sample = (cwd: string, args: string[], before?: () => void) => median(Array.from({ length: runs }, () => timed(cwd, args, before)));
  const ours = sample(ws.dir, ["show", "projects"], reset(ws.dir));
  const baseline = sample(empty, ["show", "projects"], reset(empty));
  const floor = sample(trivial, ["show", "projects"], reset(trivial));
  const renderCold = sample(ws.dir, ["run-many", "-t", "render"], () => {
    reset(ws.dir)();
    rmSync(join(ws.dir, "dist"), { recursive: true, force: true });
  });
  const renderCached = sample(ws.dir, ["run-many", "-t", "render"]);

  const probe = `
    require("@swc-node/register");
    const { createNodesV2 } = require(${JSON.stringify(join(ws.dir, "tools/nx-plugin/src/index.ts"))});
    const call = () => { const t = performance.now(); createNodesV2[1](["images/debian-13/image.json"], {}, { workspaceRoot: ${JSON.stringify(ws.dir)}, nxJsonConfiguration: {} }); return performance.now() - t; };
    const first = call(); const warm = []; for (let i = 0; i < 20; i++) warm.push(call()); warm.sort((a, b) => a - b);
    console.log(JSON.stringify({ first, warm: warm[10] }));`;
  const nodes = JSON.parse(execaSync("node", ["-e", probe], { cwd: PROJECT_ROOT }).stdout) as { first: number; warm: number };

  console.log(`nx benchmark: full matrix, ${runs} runs each (median), Nx ${execaSync(NX, ["--version"], { cwd: ws.dir, env: ENV }).stdout.split("\n").find((l) => /\d/.test(l))?.trim()}`);
  console.log(`  nx show projects, cold             ${show(ours)}`);
  console.log(`  same, empty workspace              ${show(baseline)}`);
  console.log(`  ratio (the plugin's cost)          ${(ours.seconds / baseline.seconds).toFixed(2)}x`);
  console.log(`  same, one-project TS plugin        ${show(floor)}`);
  console.log(`  ratio to that floor                ${(ours.seconds / floor.seconds).toFixed(2)}x`);
  console.log(`  nx run-many -t render, cold        ${show(renderCold)}`);
  console.log(`  nx run-many -t render, cached      ${show(renderCached)}`);
  console.log(`  createNodes alone                  ${nodes.first.toFixed(0)} ms first call, ${nodes.warm.toFixed(0)} ms warm`);
} finally {
  ws.dispose();
  rmSync(empty, { recursive: true, force: true });
  rmSync(trivial, { recursive: true, force: true });
}
