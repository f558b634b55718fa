/**
 * How the workspace scales with the matrix, against Nx's own floor (issue 20).
 *
 * In temporary workspaces it lays out the real matrix at each size (1x: images/
 * as it is; 10x: every distro file copied nine times with new versions, no
 * aliases, not the default) and, beside each, a floor workspace of the same
 * shape: one project per image with render → build-<arch> (after the parent
 * image's same arch) → publish, each a cached task of one batched executor that
 * writes one small file in Nx's own process. Rounds interleave every measure so
 * load from other processes falls on all alike, and it prints medians and the ratios to the
 * floor with the issue's targets:
 *   - `nx show projects`, cold (after `nx reset`);
 *   - `nx run-many -t publish`, cold (dry run: `OBI_DRY_RUN=1`; empty cache and dist/);
 *   - the same again, everything cached (a run with nothing to do);
 *   - peak RSS of the largest process (GNU time).
 *
 *   npm run bench:scale [-- --runs=3 --sizes=1,10]
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem, tmpdir } from "node:os";
import { join } from "node:path";
import { execaSync } from "execa";
import { IMAGES_LAYOUT, loadMatrix } from "../../libs/matrix/src";
import { makePlan, type Plan } from "../../libs/plan/src";
import { UPSTREAM_REPOSITORIES } from "../../libs/tags/src";
import { readCommandLine } from "../cli/cli";
import { createWorkspace, PROJECT_ROOT, type Workspace } from "../testing/workspace";



const NX = join(PROJECT_ROOT, "node_modules/.bin/nx");
const BASE_ENV = { NX_DAEMON: "false", NX_NO_CLOUD: "true", NX_TUI: "false", FORCE_COLOR: "0" };
const GNU_TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

interface Sample {
  readonly seconds: number;
  readonly peakMb?: number;
}

function timed(cwd: string, args: readonly string[], env: Record<string, string>): Sample {
  const start = process.hrtime.bigint();
  const all = { ...BASE_ENV, NX_CACHE_DIRECTORY: join(cwd, ".nx/cache"), ...env };
  const result = GNU_TIME
    ? execaSync(GNU_TIME, ["-f", "BENCH %M", NX, ...args], { cwd, env: all, reject: false })
    : execaSync(NX, [...args], { cwd, env: all, reject: false });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.exitCode !== 0) throw new Error(`nx ${args.join(" ")} failed in ${cwd}:\n${String(result.stderr).slice(-2000)}${String(result.stdout).slice(-2000)}`);
  const m = /BENCH (\d+)/.exec(String(result.stderr));
  return m ? { seconds, peakMb: Number(m[1]) / 1024 } : { seconds };
}

/** Copies of every distro file with new versions, so the plan has `size` times the images. */
function scaleImages(imagesDir: string, size: number): void {
  for (const name of readdirSync(imagesDir)) {
    const file = join(imagesDir, name, "image.json");
    if (!existsSync(file)) continue;
    const json = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    for (let k = 1; k < size; k++) {
      const copy = { ...json, version: `${String(json.version)}.${k}x`, title: `${String(json.title)} (copy ${k})`, aliases: [], default: false };
      mkdirSync(join(imagesDir, `${name}.${k}x`));
      writeFileSync(join(imagesDir, `${name}.${k}x`, "image.json"), JSON.stringify(copy, null, 2) + "\n");
    }
  }
}

/** Our workspace with the matrix at `size`. */
function oursAt(size: number): { ws: Workspace; plan: Plan } {
  // A Windows builder by name: a dry run connects to none, but a Windows build needs one named.
  const ws = createWorkspace({ pluginOptions: { builders: { windows: { kind: "context", name: "windows" } } } });
  scaleImages(ws.path(IMAGES_LAYOUT.dir), size);
  ws.commit(`matrix at ${size}x`);
  const plan = makePlan(loadMatrix(ws.dir), { repositories: UPSTREAM_REPOSITORIES, pins: "commit" });
  return { ws, plan };
}

/**
 * The floor's one executor, written into its workspace: it writes a task's file in
 * Nx's own process, batched like ours (`preferBatch`), so the floor pays for no
 * shell and no fork per task. `nx:run-commands` was the first floor: it costs
 * more at 1x (a shell per task) and at 10x it fails, EMFILE after ~11,000 spawns.
 */
const FLOOR_EXECUTOR = {
  "package.json": JSON.stringify({ name: "floor-executor", private: true, executors: "./executors.json" }),
  "executors.json": JSON.stringify({
    executors: { write: { implementation: "./write.js", batchImplementation: "./write.js#batch", preferBatch: true, schema: "./schema.json" } },
  }),
  "schema.json": JSON.stringify({ type: "object", properties: { file: { type: "string" } }, required: ["file"] }),
  "write.js": `"use strict";
const { mkdirSync, writeFileSync } = require("node:fs");
const { dirname, join } = require("node:path");
function write(options, root) {
  const file = join(root, options.file);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, options.file + "\\n");
}
module.exports = async (options, context) => (write(options, context.root), { success: true });
module.exports.batch = async function* (taskGraph, inputs, _overrides, context) {
  for (const id of Object.keys(taskGraph.tasks)) {
    write(inputs[id], context.root);
    yield { task: id, result: { success: true, terminalOutput: "" } };
  }
};
`,
};

/** The floor: the same projects and task graph, each task a cached in-process write of one small file. */
export function floorFor(plan: Plan): string {
  const dir = mkdtempSync(join(tmpdir(), "obi-floor-"));
  writeFileSync(join(dir, "package.json"), '{ "name": "floor", "private": true }\n');
  writeFileSync(join(dir, "nx.json"), JSON.stringify({ namedInputs: { default: ["{projectRoot}/**/*"] } }, null, 2));
  writeFileSync(join(dir, ".gitignore"), "node_modules\ndist\n.nx\n");
  symlinkSync(join(PROJECT_ROOT, "node_modules"), join(dir, "node_modules"));
  mkdirSync(join(dir, "floor-executor"));
  for (const [file, text] of Object.entries(FLOOR_EXECUTOR)) writeFileSync(join(dir, "floor-executor", file), text);
  const write = (project: string, target: string) => ({
    executor: "./floor-executor:write",
    options: { file: `dist/${project}/${target}.txt` },
    outputs: [`{workspaceRoot}/dist/${project}/${target}.txt`],
    cache: true,
  });
  for (const image of plan.images) {
    const arches = image.builds.map((b) => b.arch);
    const targets: Record<string, unknown> = { render: write(image.name, "render") };
    for (const arch of arches) {
      targets[`build-${arch}`] = { ...write(image.name, `build-${arch}`), dependsOn: ["render", { dependencies: true, target: `build-${arch}` }] };
    }
    targets.publish = { ...write(image.name, "publish"), dependsOn: ["render", ...arches.map((a) => `build-${a}`)] };
    const project = { name: image.name, root: `p/${image.name}`, implicitDependencies: [...image.dependsOn], targets };
    mkdirSync(join(dir, "p", image.name), { recursive: true });
    writeFileSync(join(dir, "p", image.name, "project.json"), JSON.stringify(project));
  }
  execaSync("git", ["init", "-q", "-b", "main"], { cwd: dir });
  execaSync("git", ["add", "-A"], { cwd: dir });
  execaSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm", "floor"], { cwd: dir });
  return dir;
}

const MEASURES = ["show", "cold", "cached"] as const;
type Measure = (typeof MEASURES)[number];

/** One round of every measure in one workspace, from a cold state. */
function round(dir: string, env: Record<string, string>): Record<Measure, Sample> {
  const reset = () => execaSync(NX, ["reset"], { cwd: dir, env: { ...BASE_ENV, NX_CACHE_DIRECTORY: join(dir, ".nx/cache"), ...env }, reject: false });
  reset();
  const show = timed(dir, ["show", "projects"], env);
  reset();
  rmSync(join(dir, "dist"), { recursive: true, force: true });
  const cold = timed(dir, ["run-many", "-t", "publish", "--outputStyle=static"], env);
  const cached = timed(dir, ["run-many", "-t", "publish", "--outputStyle=static"], env);
  return { show, cold, cached };
}

const middle = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function summary(samples: readonly Record<Measure, Sample>[]): Record<Measure, Sample> {
  const pick = (m: Measure): Sample => {
    const peaks = samples.map((s) => s[m].peakMb).filter((p): p is number => p !== undefined);
    return { seconds: middle(samples.map((s) => s[m].seconds)), ...(peaks.length ? { peakMb: Math.max(...peaks) } : {}) };
  };
  return { show: pick("show"), cold: pick("cold"), cached: pick("cached") };
}

function main(): void {
  const values = readCommandLine({
    name: "bench:scale",
    usage: "npm run bench:scale [-- --runs=3 --sizes=1,10]",
    summary: "Times nx show projects, a cold dry-run publish and a run with nothing to do on the matrix at 1x and 10x, against a floor workspace of the same shape.",
    options: {
      runs: { kind: "count", value: "n", default: 3, description: "rounds of every measure (medians are printed)" },
      sizes: {
        kind: "string",
        value: "list",
        default: "1,10",
        description: "matrix sizes, as multiples of images/",
        check: (text) => (/^\d+(,\d+)*$/.test(text) && text.split(",").every((n) => Number(n) >= 1) ? undefined : "not a comma-separated list of whole numbers of at least 1"),
      },
    },
  } as const);
  const sizes = values.sizes.split(",").map(Number);
  const created: { size: number; ours: Workspace; floor: string; plan: Plan }[] = [];
  try {
    for (const size of sizes) {
      const { ws, plan } = oursAt(size);
      created.push({ size, ours: ws, floor: floorFor(plan), plan });
    }
    const loadBefore = loadavg()[0] ?? 0;
    const results = created.map(() => ({ ours: [] as Record<Measure, Sample>[], floor: [] as Record<Measure, Sample>[] }));
    for (let r = 0; r < values.runs; r++) {
      created.forEach((c, i) => {
        results[i]?.ours.push(round(c.ours.dir, { OBI_DRY_RUN: "1" }));
        results[i]?.floor.push(round(c.floor, {}));
      });
    }
    const version = /\d+\.\d+\.\d+\S*/.exec(execaSync(NX, ["--version"], { cwd: created[0]?.floor ?? PROJECT_ROOT, env: BASE_ENV }).stdout)?.[0] ?? "?";
    console.log(
      `bench:scale: Nx ${version}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${values.runs} rounds (medians; peak RSS of the largest process, the highest seen), no daemon, ${new Date().toISOString().slice(0, 10)}`,
    );
    console.log(`  load average ${loadBefore.toFixed(1)} before, ${(loadavg()[0] ?? 0).toFixed(1)} after`);
    const cell = (s: Sample) => `${s.seconds.toFixed(2).padStart(7)} s${s.peakMb === undefined ? "" : ` ${s.peakMb.toFixed(0).padStart(5)} MB`}`;
    const LABELS: Record<Measure, string> = {
      show: "nx show projects, cold",
      cold: "run-many -t publish, cold (dry run)",
      cached: "the same again, nothing to do",
    };
    created.forEach((c, i) => {
      const ours = summary(results[i]?.ours ?? []);
      const floor = summary(results[i]?.floor ?? []);
      const tasks = c.plan.images.reduce((n, image) => n + image.builds.length + 2, 0);
      console.log(`\n${c.size}x: ${c.plan.images.length} images, ${tasks} tasks`);
      console.log(`  ${"".padEnd(38)} ${"ours".padStart(18)} ${"floor".padStart(18)}   ratio`);
      for (const m of MEASURES) {
        console.log(`  ${LABELS[m].padEnd(38)} ${cell(ours[m]).padStart(18)} ${cell(floor[m]).padStart(18)}   ${(ours[m].seconds / floor[m].seconds).toFixed(2)}x`);
      }
      const target = (label: string, value: number, limit: number, unit: string) =>
        `  target: ${label.padEnd(36)} ${value.toFixed(2).padStart(7)}${unit} <= ${limit}${unit}  ${value <= limit ? "met" : "NOT met"}`;
      console.log(target("nothing to do / floor", ours.cached.seconds / floor.cached.seconds, 1.3, "x"));
      if (c.size >= 10) {
        console.log(target("cold dry run", ours.cold.seconds, 45, " s"));
        if (ours.cold.peakMb !== undefined) console.log(target("cold dry run, peak RSS", ours.cold.peakMb, 600, " MB"));
        console.log(target("show projects, cold", ours.show.seconds, 3, " s"));
      }
    });
  } finally {
    for (const c of created) {
      c.ours.dispose();
      rmSync(c.floor, { recursive: true, force: true });
    }
  }
}

if (require.main === module) main();
