/**
 * How long computing and printing the whole plan takes: reading and
 * validating images/, making the plan, printing it. Prints medians of N runs.
 *
 *   npm run bench:plan [-- --runs 20]
 */
import { performance } from "node:perf_hooks";
import { loadMatrix } from "../../libs/matrix/src";
import { makePlan, printReference } from "../../libs/plan/src";
import { UPSTREAM_REPOSITORIES } from "../../libs/tags/src";
import { readCommandLine } from "../cli/cli";

const values = readCommandLine({
  name: "bench:plan",
  usage: "npm run bench:plan [-- --runs=20]",
  summary: "Times reading and validating images/, making the plan and printing it; prints medians.",
  options: { runs: { kind: "count", value: "n", default: 20, description: "how many times to measure" } },
} as const);
const runs = values.runs;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const times = { load: [] as number[], plan: [] as number[], print: [] as number[], total: [] as number[] };
let size = 0;
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const matrix = loadMatrix(process.cwd());
  const t1 = performance.now();
  const plan = makePlan(matrix, { repositories: UPSTREAM_REPOSITORIES, pins: "commit" });
  const t2 = performance.now();
  size = printReference(plan).length;
  const t3 = performance.now();
  times.load.push(t1 - t0);
  times.plan.push(t2 - t1);
  times.print.push(t3 - t2);
  times.total.push(t3 - t0);
}
const ms = (xs: number[]) => `${median(xs).toFixed(1)} ms`;
console.log(`plan benchmark: ${runs} runs, ${(size / 1024).toFixed(0)} KiB printed (median; the first run includes JIT warm-up)`);
console.log(`  read + validate images/  ${ms(times.load)}`);
console.log(`  make the plan            ${ms(times.plan)}`);
console.log(`  print it                 ${ms(times.print)}`);
console.log(`  total                    ${ms(times.total)}   (first run: ${times.total[0]?.toFixed(1)} ms)`);
