/**
 * Compares this plan, in the reference format, with upstream's 8.4.0 dump and
 * explains every difference by an upstream change since (libs/plan/src/reference-diff.ts).
 *
 *   npm run -s plan:upstream-diff                  a summary; exit 1 on any unexplained difference
 *   npm run -s plan:upstream-diff -- --verbose     every explained difference too
 *   npm run -s plan:upstream-diff -- --reference FILE
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadMatrix, loadUpstream } from "../../libs/matrix/src";
import { makePlan, printReference } from "../../libs/plan/src";
import { CHANGES_SINCE_8_4_0, diffAgainstReference } from "../../libs/plan/src/reference-diff";
import { UPSTREAM_REPOSITORIES } from "../../libs/tags/src";
import { readCommandLine } from "./cli";

export const REFERENCE_8_4_0 = join(__dirname, "../../libs/plan/test-data/upstream-8.4.0.expected");

export const UPSTREAM_DIFF_CLI = {
  name: "plan:upstream-diff",
  usage: "npm run -s plan:upstream-diff [-- --verbose] [--reference=FILE] [--root=DIR]",
  summary: "Compares this plan with upstream's 8.4.0 dump and explains every difference by an upstream change since; exit 1 on any unexplained one.",
  options: {
    verbose: { kind: "flag", description: "print every explained difference too" },
    reference: { kind: "string", value: "file", default: "libs/plan/test-data/upstream-8.4.0.expected", description: "the upstream dump to compare with" },
    root: { kind: "string", value: "dir", default: ".", description: "the workspace whose images/ is planned" },
  },
} as const;

function main(argv: readonly string[]): number {
  const values = readCommandLine(UPSTREAM_DIFF_CLI, argv);
  values.root = resolve(values.root);
  values.reference = values.reference === UPSTREAM_DIFF_CLI.options.reference.default ? REFERENCE_8_4_0 : resolve(values.reference);
  const plan = makePlan(loadMatrix(values.root), { repositories: UPSTREAM_REPOSITORIES, pins: "branch" });
  const diff = diffAgainstReference(readFileSync(values.reference, "utf8"), printReference(plan));
  const followed = loadUpstream(values.root)["ocaml-dockerfile"];
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`this plan (ocaml-dockerfile ${followed.release}) against ${values.reference}:`);
  for (const change of CHANGES_SINCE_8_4_0) say(`  ${change}: ${diff.counts[change]}`);
  if (values.verbose) for (const line of diff.explained) say(`    ${line}`);
  if (diff.notInReference.length) say(`  not in the reference (upstream's later additions, not checked): ${diff.notInReference.join(", ")}`);
  for (const line of diff.unexplained) say(`  UNEXPLAINED ${line}`);
  say(diff.unexplained.length ? `${diff.unexplained.length} unexplained difference(s)` : "every difference is one of the changes above");
  return diff.unexplained.length ? 1 : 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
