/**
 * The Nx plugin: reads images/, makes the plan, and turns every image into a
 * project. Thin glue: the knowledge is in libs/, the mapping in nodes.ts.
 */
import type { CreateNodes } from "@nx/devkit";
import { IMAGES_LAYOUT, loadMatrix } from "../../../libs/matrix/src";
import { makePlan } from "../../../libs/plan/src";
import { parsePluginOptions, type PluginOptions } from "./config";
import { imagesProject, projectsByFile } from "./nodes";
import { resolveRetirement } from "./settings";

export const createNodes: CreateNodes<Partial<PluginOptions>> = [
  // The files the graph is made from; a change to any of them recomputes it.
  IMAGES_LAYOUT.planInputsGlob,
  (files, rawOptions, context) => {
    const options = parsePluginOptions(rawOptions);
    const plan = makePlan(loadMatrix(context.workspaceRoot), {
      repositories: { staging: options.stagingRepo, public: options.publicRepo },
      pins: "commit",
      site: options.site,
      retirement: resolveRetirement(options.deprecationGraceDays),
    });
    const byFile = projectsByFile(plan, options);
    byFile.set(IMAGES_LAYOUT.compilers, { images: imagesProject(options) });
    return files.map((file) => [file, { projects: byFile.get(file) ?? {} }] as const);
  },
];

/** The deprecated name of the same export, for Nx versions that look only for it; Nx 24 reads `createNodes` first. */
export const createNodesV2 = createNodes;

export const name = "ocaml-base-images";
