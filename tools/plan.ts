/**
 * Prints the build plan.
 *
 *   npm run -s plan                        every build and push, with real pins
 *   npm run -s plan -- --format=reference  the upstream pipeline's dump format and names
 *   npm run -s plan -- --format=json       images, builds and manifests as JSON
 *   npm run plan:update                    rewrites the committed plan, images/builds.expected (--update)
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { IMAGES_LAYOUT, loadMatrix, MatrixError } from "../libs/matrix/src";
import { makePlan, printReference, type Plan } from "../libs/plan/src";
import { UPSTREAM_REPOSITORIES, type Repositories } from "../libs/tags/src";

const FORMATS = ["text", "reference", "json"] as const;
type Format = (typeof FORMATS)[number];

function planJson(plan: Plan): string {
  return JSON.stringify(plan.images, null, 2) + "\n";
}

function main(argv: readonly string[]): number {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      format: { type: "string", default: "text" },
      root: { type: "string", default: process.cwd() },
      staging: { type: "string" },
      public: { type: "string" },
      write: { type: "string" },
      update: { type: "boolean", default: false },
    },
  });
  const format = values.format as Format;
  if (!FORMATS.includes(format)) {
    process.stderr.write(`plan: --format must be one of ${FORMATS.join(", ")}, not "${values.format}"\n`);
    return 2;
  }
  // The reference format reproduces the upstream dump: upstream repositories and branch names for pins.
  const repositories: Repositories =
    format === "reference"
      ? UPSTREAM_REPOSITORIES
      : {
          staging: values.staging ?? UPSTREAM_REPOSITORIES.staging,
          public: values.public ?? UPSTREAM_REPOSITORIES.public,
        };
  let plan: Plan;
  try {
    plan = makePlan(loadMatrix(values.root), { repositories, pins: format === "reference" ? "branch" : "commit" });
  } catch (e) {
    if (e instanceof MatrixError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const text = format === "json" ? planJson(plan) : printReference(plan);
  const target = values.update ? IMAGES_LAYOUT.buildsExpected : values.write;
  if (target) writeFileSync(join(values.root, target), text);
  else process.stdout.write(text);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
