/**
 * The Nx plugin: reads images/, makes the plan, and turns every image into a
 * project. Thin glue: the knowledge is in libs/, the mapping in nodes.ts.
 */
import type { CreateNodes } from "@nx/devkit";
import { IMAGES_LAYOUT, loadMatrix } from "../../../libs/matrix/src";
import { makePlan } from "../../../libs/plan/src";
import { parseCodeInputs } from "./code-inputs";
import { parsePluginOptions, type PluginOptions } from "./config";
import { imagesProject, projectsByFile } from "./nodes";
import { graphDryRun, resolveRetirement } from "./settings";

export const name = "ocaml-base-images";

/**
 * The plugin, given what each executor's code is made of (bundle.js reads it
 * from the bundle's module graph): plugin.js exports what this returns.
 */
export function pluginWith(rawCode: unknown) {
  const code = parseCodeInputs(rawCode);
  const createNodes: CreateNodes<Partial<PluginOptions>> = [
    // The files the graph is made from; a change to any of them recomputes it.
    IMAGES_LAYOUT.planInputsGlob,
    (files, rawOptions, context) => {
      const parsed = parsePluginOptions(rawOptions);
      // A dry run is decided for the whole graph: it decides each task's options and outputs.
      const options = { ...parsed, dryRun: graphDryRun(parsed.dryRun) };
      const plan = makePlan(loadMatrix(context.workspaceRoot), {
        repositories: { staging: options.stagingRepo, public: options.publicRepo },
        pins: "commit",
        site: options.site,
        retirement: resolveRetirement(options.deprecationGraceDays),
      });
      const byFile = projectsByFile(plan, options, code);
      byFile.set(IMAGES_LAYOUT.compilers, { images: imagesProject(options) });
      return files.map((file) => [file, { projects: byFile.get(file) ?? {} }] as const);
    },
  ];
  // createNodesV2: the deprecated name of the same export, for Nx versions that look only for it; Nx 24 reads `createNodes` first.
  return { name, createNodes, createNodesV2: createNodes };
}
