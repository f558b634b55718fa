/**
 * render: writes each arch's Dockerfile and a description of the build
 * context under dist/images/<image>/render/. Batched: one plan serves every
 * render task of a run.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { loadMatrix } from "../../../../libs/matrix/src";
import { makePlan, type Plan } from "../../../../libs/plan/src";
import { DIST_LAYOUT, renderedContext, renderedManifests } from "../../../../libs/records/src";
import { executorOf, type TaskLog } from "./batch";
import { resolveRepositories, resolveRetirement } from "../settings";
import { writeRecord, writeWhole } from "./shared";
import { failureLine, parseOptions, type RenderOptions } from "./options";

export type { RenderOptions };

function writeImage(root: string, plan: Plan, imageName: string): string {
  const image = plan.images.find((i) => i.name === imageName);
  if (!image) throw new Error(`no image named ${imageName} in the plan`);
  rmSync(join(root, DIST_LAYOUT.renderDir(image.name)), { recursive: true, force: true });
  for (const build of image.builds) writeWhole(join(root, DIST_LAYOUT.dockerfile(image.name, build.arch)), build.dockerfile);
  writeRecord(root, DIST_LAYOUT.context(image.name), renderedContext(plan, image));
  writeRecord(root, DIST_LAYOUT.manifests(image.name), renderedManifests(plan, image));
  const arches = image.builds.map((b) => b.arch).join(", ");
  return `${image.name}: rendered ${arches ? `${arches} and ` : ""}${image.manifests.length} tag(s)`;
}

/** One plan per pair of repositories, shared by every render task of a batch. */
const plans = new Map<string, Plan>();

function planFor(root: string, options: RenderOptions): Plan {
  const repositories = resolveRepositories(options);
  const key = JSON.stringify([root, repositories, options.site ?? null, options.deprecationGraceDays ?? null]);
  let plan = plans.get(key);
  if (!plan) {
    plan = makePlan(loadMatrix(root), {
      repositories,
      pins: "commit",
      ...(options.site ? { site: options.site } : {}),
      retirement: resolveRetirement(options.deprecationGraceDays),
    });
    plans.set(key, plan);
  }
  return plan;
}

/** Renders one image; `log` receives what was written. */
export async function runRender(rawOptions: RenderOptions, root: string, log: TaskLog): Promise<boolean> {
  try {
    const options = parseOptions("render", rawOptions);
    log.say(writeImage(root, planFor(root, options), options.image));
    return true;
  } catch (e) {
    log.say(failureLine(rawOptions.image, "render", e));
    return false;
  }
}

const executor = executorOf(runRender);
export default executor.single;
/** Every render task of a run in one process: the plan is made once. */
export const renderBatch = executor.batch;
