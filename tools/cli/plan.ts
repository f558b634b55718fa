/**
 * Prints the build plan.
 *
 *   npm run -s plan                          per distro: arches, images, builds, manifests; totals
 *   npm run -s plan -- --format=dockerfiles  every build with its Dockerfile, and every push
 *   npm run -s plan -- --format=reference    the upstream pipeline's dump format and names
 *   npm run -s plan -- --format=json         images, builds and manifests as JSON
 *   npm run plan:update                      rewrites images/builds.expected (the reviewed plan; --update)
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { repositoryProblem } from "../../libs/docker/src/reference";
import { IMAGES_LAYOUT, loadMatrix, MatrixError } from "../../libs/matrix/src";
import { isDay } from "../../libs/matrix/src/schema";
import { committedPlan, DEFAULT_GRACE_DAYS, makePlan, printReference, printSummary, type Plan, type Retirement } from "../../libs/plan/src";
import { UPSTREAM_REPOSITORIES, type Repositories } from "../../libs/tags/src";
import { workspacePluginOptions } from "../nx-plugin/src/config";
import { resolveRepositories } from "../nx-plugin/src/settings";
import { readCommandLine } from "./cli";

/** The repositories the workspace's pipeline builds for: the plugin's options in nx.json, then OBI_STAGING_REPO and OBI_PUBLIC_REPO. */
const pipelineRepositories = (root: string): Repositories => resolveRepositories(workspacePluginOptions(root));

/** For the help: the repositories of the workspace in the current directory, if it is one. */
const shownDefaults = ((): Partial<Repositories> => {
  try {
    return pipelineRepositories(process.cwd());
  } catch {
    return {};
  }
})();

const FORMATS = ["summary", "dockerfiles", "reference", "json"] as const;

export const PLAN_CLI = {
  name: "plan",
  usage: "npm run -s plan -- [options]",
  summary: "Prints the build plan made from images/: by default a summary per distro.",
  options: {
    format: {
      kind: "string",
      value: "format",
      choices: FORMATS,
      default: "summary",
      description:
        "summary: per distro, its arches, images, builds and manifests; dockerfiles: every build with its Dockerfile, and every push; " +
        "reference: the upstream pipeline's dump (upstream names, branch pins); json: images, builds and manifests",
    },
    root: { kind: "string", value: "dir", description: "the workspace whose images/ to read (default: the current directory)" },
    staging: {
      kind: "string",
      value: "repo",
      check: repositoryProblem,
      description: `the staging repository (default: the pipeline's, from nx.json and OBI_STAGING_REPO${shownDefaults.staging ? `: ${shownDefaults.staging}` : ""}; not with reference)`,
    },
    public: {
      kind: "string",
      value: "repo",
      check: repositoryProblem,
      description: `the public repository (default: the pipeline's, from nx.json and OBI_PUBLIC_REPO${shownDefaults.public ? `: ${shownDefaults.public}` : ""}; not with reference)`,
    },
    now: {
      kind: "string",
      value: "day",
      check: (v: string) => (isDay(v) ? undefined : "not a day (YYYY-MM-DD)"),
      description: "the day the plan is made for: deprecated distros whose grace period is over then get the deprecation image (default: OBI_NOW, else today; not with reference)",
    },
    "grace-days": {
      kind: "string",
      value: "days",
      default: String(DEFAULT_GRACE_DAYS),
      check: (v: string) => (/^\d+$/.test(v) ? undefined : "not a whole number of days"),
      description: "days after a distro's deprecation before its tags get the deprecation image",
    },
    write: { kind: "string", value: "file", description: "write to this file (relative to the root) instead of stdout" },
    update: { kind: "flag", description: "rewrite the committed plan, images/builds.expected, in the dockerfiles format with upstream's repositories" },
  },
} as const;

function planJson(plan: Plan): string {
  return JSON.stringify(plan.images, null, 2) + "\n";
}

function main(): number {
  const values = readCommandLine(PLAN_CLI);
  const root = values.root ?? process.cwd();
  // --update: the committed plan, in the dockerfiles format, where the layout keeps it.
  const format = values.update ? "dockerfiles" : values.format;
  // Our formats retire deprecated distros by the clock; upstream's dump has no such step.
  const nowText = values.now ?? process.env.OBI_NOW;
  const now = nowText ? Date.parse(nowText) : Date.now();
  if (Number.isNaN(now)) {
    process.stderr.write(`plan: OBI_NOW: ${JSON.stringify(nowText)} is not a date\n`);
    return 2;
  }
  const retirement: Retirement = { now: new Date(now), graceDays: Number(values["grace-days"]) };
  let plan: Plan;
  try {
    const matrix = loadMatrix(root);
    if (values.update) {
      // --update writes the committed plan, made as the Nx generators make it (upstream's repositories).
      plan = committedPlan(matrix, retirement);
    } else {
      // The reference format reproduces the upstream dump: it names upstream's repositories.
      const upstream = format === "reference";
      const pipeline = upstream || (values.staging && values.public) ? undefined : pipelineRepositories(root);
      const repositories: Repositories = upstream
        ? UPSTREAM_REPOSITORIES
        : { staging: values.staging ?? pipeline?.staging ?? "", public: values.public ?? pipeline?.public ?? "" };
      plan = makePlan(matrix, { repositories, pins: upstream ? "branch" : "commit", ...(upstream ? {} : { retirement }) });
    }
  } catch (e) {
    // A broken images/ file, or plugin option in nx.json: its lines, each naming the file and field.
    if (e instanceof MatrixError || (e instanceof Error && /nx\.json/.test(e.message))) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const text =
    format === "json"
      ? planJson(plan)
      : format === "summary"
        ? `${printSummary(plan)}\nEvery Dockerfile: --format=dockerfiles; the upstream dump: --format=reference; more: --help\n`
        : printReference(plan);
  const target = values.update ? IMAGES_LAYOUT.buildsExpected : values.write;
  if (target) writeFileSync(join(root, target), text);
  else process.stdout.write(text);
  return 0;
}

process.exitCode = main();
