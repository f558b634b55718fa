/**
 * What each executor's code is made of, as the bundler saw it (bundle.js
 * writes code-inputs.json from rolldown's module graph and hands it to
 * `pluginWith`): the workspace modules of its transitive import closure and
 * the packages it bundles or requires. Each cached target's code inputs are
 * exactly these, so no list of source files is kept by hand.
 */
import type { TargetConfiguration } from "@nx/devkit";
import { z } from "zod";

const executorCodeSchema = z.strictObject({
  /** Workspace-relative paths of the modules the executor loads, its entry included. */
  modules: z.array(z.string().min(1)).min(1),
  /** Packages it bundles (zod) or requires (execa), by name; node's own modules are not listed. */
  packages: z.array(z.string().min(1)),
});

/** The executors whose tasks Nx caches: their code decides their outputs. */
export const CACHED_EXECUTORS = ["render", "build", "publish"] as const;
export type CachedExecutor = (typeof CACHED_EXECUTORS)[number];

const codeInputsSchema = z.object(Object.fromEntries(CACHED_EXECUTORS.map((name) => [name, executorCodeSchema])) as Record<CachedExecutor, typeof executorCodeSchema>);

export type ExecutorCode = z.output<typeof executorCodeSchema>;
export type CodeInputs = Readonly<Record<CachedExecutor, ExecutorCode>>;

/** The bundle's code inputs, checked: a bundle from another version of bundle.js is refused in one line. */
export function parseCodeInputs(raw: unknown): CodeInputs {
  const result = codeInputsSchema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new Error(`tools/nx-plugin: the bundle's code-inputs.json: ${issue?.path.map(String).join(".")}: ${issue?.message}`);
}

type Input = NonNullable<TargetConfiguration["inputs"]>[number];

/** How every executor is loaded: the bundler (its entry points, what it bundles) and its own version. */
const BUNDLER: readonly Input[] = ["{workspaceRoot}/tools/nx-plugin/bundle.js"];
const BUNDLER_PACKAGE = "rolldown";

/** The Nx inputs of one executor's code: each module of its closure, the bundler, and the versions of its packages. */
export function codeInputsOf(code: ExecutorCode): Input[] {
  return [
    ...code.modules.map((module) => `{workspaceRoot}/${module}`),
    ...BUNDLER,
    { externalDependencies: [...new Set([...code.packages, BUNDLER_PACKAGE])].sort() },
  ];
}
