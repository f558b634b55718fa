/**
 * Compares this plan, in the reference format, with upstream's 8.4.0 dump and
 * explains every difference by an upstream change since (libs/plan/src/reference-diff.ts).
 *
 *   npm run -s plan:upstream-diff                  a summary; exit 1 on any unexplained difference
 *   npm run -s plan:upstream-diff -- --verbose     every explained difference too
 *   npm run -s plan:upstream-diff -- --reference FILE
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadMatrix, loadUpstream } from "../../libs/matrix/src";
import { makePlan, printReference } from "../../libs/plan/src";
import { CHANGES_SINCE_8_4_0, diffAgainstReference } from "../../libs/plan/src/reference-diff";
import { UPSTREAM_REPOSITORIES } from "../../libs/tags/src";

export const REFERENCE_8_4_0 = join(__dirname, "../../libs/plan/test-data/upstream-8.4.0.expected");

function main(argv: readonly string[]): number {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      root: { type: "string", default: process.cwd() },
      reference: { type: "string", default: REFERENCE_8_4_0 },
      verbose: { type: "boolean", default: false },
    },
  });
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
