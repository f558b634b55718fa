/**
 * render: writes each arch's Dockerfile and a description of the build
 * context under dist/images/<image>/render/. Batched: one plan serves every
 * render task of a run.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { ExecutorContext, TaskGraph } from "@nx/devkit";
import { loadMatrix } from "../../../../libs/matrix/src";
import { makePlan, type Plan } from "../../../../libs/plan/src";
import { renderDir, resolveSettings, say, writeWhole, type RenderedContext } from "./shared";

/** Nx's batch result: one entry per task id. */
type BatchExecutorResult = Record<string, { success: boolean; terminalOutput: string; startTime?: number; endTime?: number }>;

export interface RenderOptions {
  readonly image: string;
  readonly stagingRepo: string;
  readonly publicRepo: string;
}

/** What an image's build context is (context.json): the same for each of its arches. */
export function renderedContext(plan: Plan, image: Plan["images"][number]): RenderedContext {
  const first = image.builds[0];
  return first?.context === "opam-repository"
    ? { kind: "opam-repository", url: plan.repository.url, commit: plan.repository.commit, ...(first.base ? { base: first.base } : {}) }
    : { kind: "dockerfile-only" };
}

function writeImage(root: string, plan: Plan, imageName: string): string {
  const image = plan.images.find((i) => i.name === imageName);
  if (!image) throw new Error(`no image named ${imageName} in the plan`);
  const dir = renderDir(root, image.name);
  rmSync(dir, { recursive: true, force: true });
  for (const build of image.builds) writeWhole(join(dir, `${build.arch}.Dockerfile`), build.dockerfile);
  writeWhole(join(dir, "context.json"), JSON.stringify(renderedContext(plan, image), null, 2) + "\n");
  return `rendered ${image.name}: ${image.builds.map((b) => b.arch).join(", ")}`;
}

function planFor(root: string, options: RenderOptions): Plan {
  const settings = resolveSettings(options);
  return makePlan(loadMatrix(root), {
    repositories: { staging: settings.stagingRepo, public: settings.publicRepo ?? options.publicRepo },
    pins: "commit",
  });
}

export default async function render(options: RenderOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  say(writeImage(context.root, planFor(context.root, options), options.image));
  return { success: true };
}

export async function renderBatch(
  taskGraph: TaskGraph,
  inputs: Record<string, RenderOptions>,
  _overrides: unknown,
  context: ExecutorContext,
): Promise<BatchExecutorResult> {
  const results: BatchExecutorResult = {};
  const plans = new Map<string, Plan>();
  for (const taskId of Object.keys(taskGraph.tasks)) {
    const options = inputs[taskId] as RenderOptions;
    const start = Date.now();
    try {
      const key = `${options.stagingRepo} ${options.publicRepo}`;
      const plan = plans.get(key) ?? planFor(context.root, options);
      plans.set(key, plan);
      results[taskId] = { success: true, terminalOutput: writeImage(context.root, plan, options.image), startTime: start, endTime: Date.now() };
    } catch (e) {
      results[taskId] = { success: false, terminalOutput: (e as Error).message, startTime: start, endTime: Date.now() };
    }
  }
  return results;
}
