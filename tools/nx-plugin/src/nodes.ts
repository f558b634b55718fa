/**
 * Maps the plan to Nx projects: one per image, named like its public tag,
 * with `render`, one `build-<arch>` per arch and `publish`. Pure: the same
 * plan and options give the same configuration, so Nx can cache the graph.
 */
import type { ProjectConfiguration, TargetConfiguration } from "@nx/devkit";
import type { Build, Image, Plan } from "../../../libs/plan/src";
import { builderEnv, ENV, OUTPUT_DIR, rebuildPeriodCommand, type PluginOptions } from "./config";

/** Where the plugin's executors live, relative to the workspace root. */
const EXECUTORS = "./tools/nx-plugin";
const PLUGIN_SOURCE = "{workspaceRoot}/tools/nx-plugin/src";

/** Everything that decides a Dockerfile's text: the planning libraries (not their tests). */
const PLAN_CODE = [
  ...["dockerfile", "ocaml", "distros", "tags", "plan", "matrix"].map((lib) => `{workspaceRoot}/libs/${lib}/src/**/*.ts`),
  "!{workspaceRoot}/libs/**/*.test.ts",
];
/** Everything that decides how a build or push runs: the docker edge and the executors. */
const DOCKER_CODE = [
  "{workspaceRoot}/libs/docker/src/**/*.ts",
  "!{workspaceRoot}/libs/**/*.test.ts",
  `${PLUGIN_SOURCE}/config.ts`,
  `${PLUGIN_SOURCE}/executors/shared.ts`,
  `${PLUGIN_SOURCE}/executors/batch.ts`,
];

const distDir = (image: string): string => `${OUTPUT_DIR}/${image}`;

/** The files under images/ that an image's Dockerfile is made from. */
function dataInputs(image: Image, index: PlanIndex): string[] {
  const distroFile = (distro: string) => `{workspaceRoot}/images/${distro}/image.json`;
  switch (image.kind) {
    case "opam":
      return [distroFile(image.distro), "{workspaceRoot}/images/opam.json", "{workspaceRoot}/images/opam-repository.json"];
    case "compiler":
      return [distroFile(image.distro), "{workspaceRoot}/images/compilers.json"];
    case "archive":
      return [distroFile(image.distro)];
    case "windows-all":
      return image.dependsOn.map((part) => distroFile(index.distroOf.get(part) ?? part));
  }
}

function renderTarget(image: Image, index: PlanIndex, options: PluginOptions): TargetConfiguration {
  const out = `{workspaceRoot}/${distDir(image.name)}`;
  return {
    executor: `${EXECUTORS}:render`,
    options: { image: image.name, stagingRepo: options.stagingRepo, publicRepo: options.publicRepo },
    inputs: [
      ...dataInputs(image, index),
      ...PLAN_CODE,
      `${PLUGIN_SOURCE}/executors/render.ts`,
      { env: ENV.stagingRepo },
      { env: ENV.publicRepo },
    ],
    outputs: [`${out}/render`],
    cache: true,
  };
}

/** Lookups over the whole plan, made once per graph computation. */
interface PlanIndex {
  readonly plan: Plan;
  readonly buildById: ReadonlyMap<string, Build>;
  readonly buildByTag: ReadonlyMap<string, Build>;
  readonly distroOf: ReadonlyMap<string, string>;
}

function indexPlan(plan: Plan): PlanIndex {
  const builds = plan.images.flatMap((i) => i.builds);
  return {
    plan,
    buildById: new Map(builds.map((b) => [b.id, b])),
    buildByTag: new Map(builds.map((b) => [b.stagingTag, b])),
    distroOf: new Map(plan.images.map((i) => [i.name, i.distro])),
  };
}

function buildTarget(image: Image, build: Build, index: PlanIndex, options: PluginOptions): TargetConfiguration {
  const arch = build.arch;
  const builder = options.builders[arch];
  const parent = build.parent === undefined ? undefined : index.buildById.get(build.parent);
  return {
    executor: `${EXECUTORS}:build`,
    // Own render first, then the build this one starts FROM (the parent project's same arch).
    dependsOn: ["render", `^build-${arch}`],
    options: {
      image: image.name,
      arch,
      os: build.os,
      tag: build.stagingTag.slice(build.stagingTag.lastIndexOf(":") + 1),
      ...(parent ? { parent: { image: parent.image, arch: parent.arch } } : {}),
      ...(builder ? { builder } : {}),
      stagingRepo: options.stagingRepo,
      registry: options.registry,
      dryRun: options.dryRun,
      builtinFrontend: options.builtinFrontend,
      rebuildPeriodDays: options.rebuildPeriodDays,
    },
    // A build is decided by its Dockerfile and context, its parent's digest, the builder and our docker code; nothing else.
    inputs: [
      { dependentTasksOutputFiles: "**/*", transitive: false },
      ...DOCKER_CODE,
      `${PLUGIN_SOURCE}/executors/build.ts`,
      { env: ENV.stagingRepo },
      { env: builderEnv(arch) },
      { env: ENV.dryRun },
      // The scheduled rebuild: a new period is a new hash for every build.
      { runtime: rebuildPeriodCommand(options.rebuildPeriodDays) },
    ],
    outputs: [`{workspaceRoot}/${distDir(image.name)}/build-${arch}.json`],
    cache: true,
  };
}

function publishTarget(image: Image, index: PlanIndex, options: PluginOptions): TargetConfiguration {
  const byTag = index.buildByTag;
  const publicPrefix = `${options.publicRepo}:`;
  const arches = image.builds.map((b) => b.arch);
  return {
    executor: `${EXECUTORS}:publish`,
    // Only after every arch of the image built; multi-distro manifests wait for their parts' builds.
    dependsOn: image.kind === "windows-all" ? ["^build-amd64"] : arches.map((a) => `build-${a}`),
    options: {
      image: image.name,
      manifests: image.manifests.map((m) => ({
        name: m.tag.slice(publicPrefix.length),
        sources: m.sources.map((tag) => {
          const b = byTag.get(tag);
          if (!b) throw new Error(`no build pushes ${tag}`);
          return { image: b.image, arch: b.arch };
        }),
      })),
      stagingRepo: options.stagingRepo,
      publicRepo: options.publicRepo,
      registry: options.registry,
      dryRun: options.dryRun,
    },
    inputs: [
      { dependentTasksOutputFiles: "**/*.json", transitive: false },
      ...DOCKER_CODE,
      `${PLUGIN_SOURCE}/executors/publish.ts`,
      { env: ENV.stagingRepo },
      { env: ENV.publicRepo },
      { env: ENV.dryRun },
    ],
    outputs: [`{workspaceRoot}/${distDir(image.name)}/publish.json`],
    cache: true,
  };
}

function imageProject(image: Image, index: PlanIndex, options: PluginOptions): ProjectConfiguration {
  const targets: Record<string, TargetConfiguration> = {};
  if (image.builds.length > 0) targets.render = renderTarget(image, index, options);
  for (const build of image.builds) targets[`build-${build.arch}`] = buildTarget(image, build, index, options);
  targets.publish = publishTarget(image, index, options);
  return {
    name: image.name,
    // A root of its own that need not exist on disk; every input above is workspace-relative.
    root: `images/${image.distro}/${image.name}`,
    projectType: "application",
    tags: [`kind:${image.kind}`, `distro:${image.distro}`, ...image.builds.map((b) => `arch:${b.arch}`)],
    implicitDependencies: [...image.dependsOn],
    targets,
    metadata: {
      description: describe(image),
      ...(image.compiler ? { compiler: image.compiler } : {}),
      tags: image.manifests.map((m) => m.tag),
    },
  };
}

function describe(image: Image): string {
  switch (image.kind) {
    case "opam":
      return `opam and opam-repository on ${image.distro}`;
    case "compiler":
      return `OCaml ${image.compiler} on ${image.distro}`;
    case "archive":
      return "the source archives opam-repository refers to";
    case "windows-all":
      return `OCaml ${image.compiler} on every ${image.distro} image`;
  }
}

/**
 * Projects by the file that declares them: a distro's images belong to its
 * image.json; the archive to the default distro's; multi-distro manifests to
 * their newest part's.
 */
export function projectsByFile(plan: Plan, options: PluginOptions): Map<string, Record<string, ProjectConfiguration>> {
  const byFile = new Map<string, Record<string, ProjectConfiguration>>();
  const index = indexPlan(plan);
  for (const image of plan.images) {
    const owner = image.kind === "windows-all" ? (index.distroOf.get(image.dependsOn[0] ?? "") ?? image.distro) : image.distro;
    const file = `images/${owner}/image.json`;
    const projects = byFile.get(file) ?? {};
    const project = imageProject(image, index, options);
    projects[project.root] = project;
    byFile.set(file, projects);
  }
  return byFile;
}

/** The workspace project that owns the pins: `nx run images:update-pins [--check]`. */
export function imagesProject(options: PluginOptions): ProjectConfiguration {
  return {
    name: "images",
    root: "images",
    projectType: "library",
    tags: ["kind:matrix"],
    targets: {
      "update-pins": {
        executor: `${EXECUTORS}:update-pins`,
        options: { stagingRepo: options.stagingRepo, registry: options.registry },
        // It asks upstream what moved: never answered from a cache.
        cache: false,
      },
      // The state of every build and publish, from dist/: `nx run images:status [--serve]`.
      status: {
        executor: `${EXECUTORS}:status`,
        options: { stagingRepo: options.stagingRepo, publicRepo: options.publicRepo, rebuildPeriodDays: options.rebuildPeriodDays, builtinFrontend: options.builtinFrontend },
        cache: false,
      },
    },
    metadata: { description: "the declared matrix and its pins" },
  };
}
