/**
 * render: writes each arch's Dockerfile and a description of the build
 * context under dist/images/<image>/render/. Batched: one plan serves every
 * render task of a run.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { loadMatrix } from "../../../../libs/matrix/src";
import { makePlan, type Build, type Image, type Plan } from "../../../../libs/plan/src";
import { executorOf, type TaskLog } from "./batch";
import { resolveRepositories, resolveRetirement } from "../settings";
import { manifestsPath, renderDir, writeWhole, type RenderedContext, type RenderedManifests } from "./shared";
import { failureLine, parseOptions, type RenderOptions } from "./options";

export type { RenderOptions };

/** Every build of a plan by id, to name the builds each tag joins. */
const buildsById = new WeakMap<Plan, ReadonlyMap<string, Build>>();

function manifestsOf(plan: Plan, image: Image): RenderedManifests {
  let byId = buildsById.get(plan);
  if (!byId) {
    byId = new Map(plan.images.flatMap((i) => i.builds).map((b) => [b.id, b]));
    buildsById.set(plan, byId);
  }
  const builds = byId;
  return {
    manifests: image.manifests.map((m) => ({
      name: m.name,
      sources: m.builds.map((id) => {
        const build = builds.get(id);
        if (!build) throw new Error(`${m.tag} joins ${id}, which the plan does not build`);
        return { image: build.image, arch: build.arch, ...(build.osVersion ? { osVersion: build.osVersion } : {}) };
      }),
    })),
  };
}

/** What an image's build context is (context.json): the same for each of its arches. */
export function renderedContext(plan: Plan, image: Plan["images"][number]): RenderedContext {
  const first = image.builds[0];
  return first?.context === "opam-repository"
    ? { kind: "opam-repository", url: plan.repository.url, commit: plan.repository.commit, ...(first.base ? { base: first.base } : {}) }
    : { kind: "dockerfile-only", ...(first?.base ? { base: first.base } : {}) };
}

function writeImage(root: string, plan: Plan, imageName: string): string {
  const image = plan.images.find((i) => i.name === imageName);
  if (!image) throw new Error(`no image named ${imageName} in the plan`);
  const dir = renderDir(root, image.name);
  rmSync(dir, { recursive: true, force: true });
  for (const build of image.builds) writeWhole(join(dir, `${build.arch}.Dockerfile`), build.dockerfile);
  writeWhole(join(dir, "context.json"), JSON.stringify(renderedContext(plan, image), null, 2) + "\n");
  writeWhole(manifestsPath(root, image.name), JSON.stringify(manifestsOf(plan, image), null, 2) + "\n");
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
