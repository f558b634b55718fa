/**
 * describe: writes the repository description users read on the registry
 * (markdown, from the plan): every public tag by distro and compiler, the
 * aliases, arches, variants and retired tags, and how to pick one.
 *
 *   nx run images:describe            nx run images:describe --output=dist/description.md
 */
import { join } from "node:path";
import type { ExecutorContext } from "@nx/devkit";
import { loadMatrix } from "../../../../libs/matrix/src";
import { describeTags, makePlan } from "../../../../libs/plan/src";
import { resolveRepositories, resolveRetirement } from "../settings";
import { say, writeWhole } from "./shared";
import { parseOptions, type DescribeOptions } from "./options";

export type { DescribeOptions };

/** Where the description goes unless told: committed, and linked from the README. */
export const DESCRIPTION_FILE = "docs/tags.md";

export default async function describeExecutor(rawOptions: DescribeOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  try {
    const options = parseOptions("describe", rawOptions);
    const repositories = resolveRepositories(options);
    const matrix = loadMatrix(context.root);
    const plan = makePlan(matrix, {
      repositories,
      pins: "commit",
      ...(options.site ? { site: options.site } : {}),
      retirement: resolveRetirement(options.deprecationGraceDays),
    });
    const text = describeTags(plan, { repository: repositories.public, titles: new Map(matrix.distros.map((d) => [d.name, d.title])) });
    const output = options.output ?? DESCRIPTION_FILE;
    writeWhole(join(context.root, output), text);
    say(`wrote ${output}: ${plan.images.flatMap((i) => i.manifests).length} tags`);
    return { success: true };
  } catch (e) {
    process.stderr.write(`describe: ${(e as Error).message}\n`);
    return { success: false };
  }
}
