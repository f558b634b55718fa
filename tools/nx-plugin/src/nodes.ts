/**
 * Maps the plan to Nx projects: one per image, named like its public tag,
 * with `render`, one `build-<arch>` per arch and `publish`. Pure: the same
 * plan and options give the same configuration, so Nx can cache the graph.
 */
import type { ProjectConfiguration, TargetConfiguration, TargetDependencyConfig } from "@nx/devkit";
import { IMAGES_LAYOUT } from "../../../libs/matrix/src/layout";
import type { Build, Image, ImageKind, Plan } from "../../../libs/plan/src";
import { builderKeyOf, normalizeBuilder } from "./builders";
import { builderEnv, buildRecordFile, ENV, OUTPUT_DIR, rebuildPeriodCommand, type PluginOptions } from "./config";

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
  `${PLUGIN_SOURCE}/settings.ts`,
  `${PLUGIN_SOURCE}/executors/shared.ts`,
  `${PLUGIN_SOURCE}/executors/batch.ts`,
  `${PLUGIN_SOURCE}/executors/options.ts`,
  `${PLUGIN_SOURCE}/executors/records.ts`,
  // How the executors are loaded: the bundler and its entry points.
  "{workspaceRoot}/tools/nx-plugin/bundle.js",
];

const distDir = (image: string): string => `${OUTPUT_DIR}/${image}`;

type Input = NonNullable<TargetConfiguration["inputs"]>[number];

/**
 * Fields of a distro's image.json that decide none of an image kind's
 * Dockerfiles, build contexts or public tags, so they stay out of its render's
 * hash: moving an alias re-renders the compiler images whose tags it changes,
 * not the opam image. inputs.test.ts checks each one against the real matrix.
 */
export const UNDECIDING_DISTRO_FIELDS: Readonly<Record<ImageKind, readonly string[]>> = {
  opam: ["$schema", "title", "aliases", "default", "tier", "prereleases"],
  compiler: ["$schema", "title"],
  archive: ["$schema", "title"],
  "windows-all": ["$schema", "title"],
};

/** The only part of compilers.json an opam image depends on: the releases (the latest decides its arches). */
export const OPAM_COMPILER_FIELDS = ["releases"] as const;

/** The files under images/ (and the fields of them) that an image's Dockerfiles and tags are made from. */
function dataInputs(image: Image, index: PlanIndex): Input[] {
  const inWorkspace = (file: string) => `{workspaceRoot}/${file}`;
  const distroFile = (distro: string): Input => ({
    json: inWorkspace(IMAGES_LAYOUT.distroFile(distro)),
    excludeFields: [...UNDECIDING_DISTRO_FIELDS[image.kind]],
  });
  const compilers = inWorkspace(IMAGES_LAYOUT.compilers);
  switch (image.kind) {
    case "opam":
      return [
        distroFile(image.distro),
        { json: compilers, fields: [...OPAM_COMPILER_FIELDS] },
        inWorkspace(IMAGES_LAYOUT.opam),
        inWorkspace(IMAGES_LAYOUT.opamRepository),
      ];
    case "compiler":
      return [distroFile(image.distro), compilers];
    case "archive":
      return [distroFile(image.distro)];
    case "windows-all":
      return [...image.dependsOn.map((part) => distroFile(index.distroOf.get(part) ?? part)), compilers];
  }
}

function renderTarget(image: Image, index: PlanIndex, options: PluginOptions): TargetConfiguration {
  const out = `{workspaceRoot}/${distDir(image.name)}`;
  return {
    executor: `${EXECUTORS}:render`,
    options: { image: image.name, stagingRepo: options.stagingRepo, publicRepo: options.publicRepo, site: options.site },
    inputs: [
      ...dataInputs(image, index),
      ...PLAN_CODE,
      `${PLUGIN_SOURCE}/executors/render.ts`,
      { env: ENV.stagingRepo },
      { env: ENV.publicRepo },
    ],
    outputs: [`${out}/render`],
    cache: true,
    metadata: targetMetadata(image.name, "render"),
  };
}

/** Lookups over the whole plan, made once per graph computation. */
interface PlanIndex {
  readonly plan: Plan;
  readonly buildById: ReadonlyMap<string, Build>;
  readonly distroOf: ReadonlyMap<string, string>;
}

function indexPlan(plan: Plan): PlanIndex {
  const builds = plan.images.flatMap((i) => i.builds);
  return {
    plan,
    buildById: new Map(builds.map((b) => [b.id, b])),
    distroOf: new Map(plan.images.map((i) => [i.name, i.distro])),
  };
}

function buildTarget(image: Image, build: Build, index: PlanIndex, options: PluginOptions): TargetConfiguration {
  const arch = build.arch;
  const builderKey = builderKeyOf(build.os, arch);
  const declared = options.builders[builderKey];
  const builder = declared === undefined ? undefined : normalizeBuilder(declared);
  const parent = build.parent === undefined ? undefined : index.buildById.get(build.parent);
  return {
    executor: `${EXECUTORS}:build`,
    // Own render first, then the build this one starts FROM (the parent project's same arch).
    // Overrides such as --dryRun reach the parent build too: a dry run is never half real.
    dependsOn: ["render", { dependencies: true, target: `build-${arch}`, params: "forward" }],
    options: {
      image: image.name,
      arch,
      os: build.os,
      tag: build.tagName,
      ...(parent ? { parent: { image: parent.image, arch: parent.arch } } : {}),
      ...(builder ? { builder } : {}),
      stagingRepo: options.stagingRepo,
      registry: options.registry,
      dryRun: options.dryRun,
      builtinFrontend: options.builtinFrontend,
      rebuildPeriodDays: options.rebuildPeriodDays,
      about: about(image),
      imageMetadata: options.imageMetadata,
      attestations: options.attestations,
    },
    // A build is decided by its own Dockerfile and context (not the other arches' nor
    // the image's tags), its parent's record, the builder and our docker code; nothing else.
    inputs: [
      { dependentTasksOutputFiles: `**/render/${arch}.Dockerfile`, transitive: false },
      { dependentTasksOutputFiles: "**/render/context.json", transitive: false },
      { dependentTasksOutputFiles: `**/${buildRecordFile(arch)}`, transitive: false },
      ...DOCKER_CODE,
      `${PLUGIN_SOURCE}/executors/build.ts`,
      { env: ENV.stagingRepo },
      { env: builderEnv(builderKey) },
      { env: ENV.dryRun },
      // The scheduled rebuild: a new period is a new hash for every build.
      { runtime: rebuildPeriodCommand(options.rebuildPeriodDays) },
    ],
    outputs: [`{workspaceRoot}/${distDir(image.name)}/${buildRecordFile(arch)}`],
    cache: true,
    metadata: targetMetadata(image.name, `build-${arch}`),
  };
}

function publishTarget(image: Image, options: PluginOptions): TargetConfiguration {
  const arches = image.builds.map((b) => b.arch);
  const builds: TargetDependencyConfig[] =
    image.kind === "windows-all"
      ? [{ dependencies: true, target: "build-amd64", params: "forward" }]
      : arches.map((a) => ({ target: `build-${a}`, params: "forward" }));
  return {
    executor: `${EXECUTORS}:publish`,
    // Its own render (which lists the tags and what each joins), then every build it joins;
    // overrides (--dryRun) are forwarded to the builds, so a dry publish never builds for real.
    dependsOn: ["render", ...builds],
    // The tags are a file the render writes, not options: moving an alias must not touch
    // the project's configuration, which Nx hashes into every task of the project.
    options: {
      image: image.name,
      stagingRepo: options.stagingRepo,
      publicRepo: options.publicRepo,
      registry: options.registry,
      dryRun: options.dryRun,
      about: about(image),
      imageMetadata: options.imageMetadata,
    },
    inputs: [
      { dependentTasksOutputFiles: "**/render/manifests.json", transitive: false },
      // The records of the builds it joins (not how they ran: a reused build is the same build).
      ...(image.kind === "windows-all" ? ["amd64"] : arches).map((arch): Input => ({ dependentTasksOutputFiles: `**/${buildRecordFile(arch)}`, transitive: false })),
      ...DOCKER_CODE,
      `${PLUGIN_SOURCE}/executors/publish.ts`,
      { env: ENV.stagingRepo },
      { env: ENV.publicRepo },
      { env: ENV.dryRun },
    ],
    outputs: [`{workspaceRoot}/${distDir(image.name)}/publish.json`],
    cache: true,
    metadata: targetMetadata(image.name, "publish"),
  };
}

function imageProject(image: Image, index: PlanIndex, options: PluginOptions): ProjectConfiguration {
  const targets: Record<string, TargetConfiguration> = {};
  targets.render = renderTarget(image, index, options);
  for (const build of image.builds) targets[`build-${build.arch}`] = buildTarget(image, build, index, options);
  targets.publish = publishTarget(image, options);
  return {
    name: image.name,
    // A root of its own that need not exist on disk; every input above is workspace-relative.
    root: IMAGES_LAYOUT.projectRoot(image.distro, image.name),
    projectType: "application",
    tags: [`kind:${image.kind}`, `distro:${image.distro}`, ...image.builds.map((b) => `arch:${b.arch}`)],
    implicitDependencies: [...image.dependsOn],
    targets,
    metadata: {
      description: describe(image),
      ...(image.compiler ? { compiler: image.compiler } : {}),
      tags: image.manifests.map((m) => m.tag),
      technologies: ["docker"],
      targetGroups: targetGroups(Object.keys(targets)),
    },
  };
}

/** What an image says of itself in its labels and lists: fixed by the image, whichever commit or arch. */
function about(image: Image): { title: string; description: string; version?: string } {
  return { title: image.name, description: describe(image), ...(image.compiler && image.kind !== "opam" ? { version: image.compiler } : {}) };
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
    const file = IMAGES_LAYOUT.distroFile(owner);
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
    root: IMAGES_LAYOUT.dir,
    projectType: "library",
    tags: ["kind:matrix"],
    targets: {
      "update-pins": {
        executor: `${EXECUTORS}:update-pins`,
        options: { stagingRepo: options.stagingRepo, registry: options.registry },
        // It asks upstream what moved: never answered from a cache.
        cache: false,
        metadata: targetMetadata("images", "update-pins"),
      },
      // The state of every build and publish, from dist/: `nx run images:status [--serve]`.
      status: {
        executor: `${EXECUTORS}:status`,
        options: {
          stagingRepo: options.stagingRepo,
          publicRepo: options.publicRepo,
          site: options.site,
          rebuildPeriodDays: options.rebuildPeriodDays,
          builtinFrontend: options.builtinFrontend,
        },
        cache: false,
        metadata: targetMetadata("images", "status"),
      },
    },
    metadata: { description: "the declared matrix and its pins", targetGroups: { pins: ["update-pins"], status: ["status"] } },
  };
}

/** What each kind of target says about itself in `nx show project` and the graph's project view. */
const TARGET_INFO = {
  render: {
    description: "Writes the image's Dockerfile per arch and its build context description under dist/images/<image>/render/.",
    technologies: [],
    example: {},
  },
  build: {
    description: "Builds the image for one arch with docker buildx and pushes it to the staging repository; a build already there is reused.",
    technologies: ["docker"],
    example: { dryRun: true },
  },
  publish: {
    description: "Joins the image's staging builds into its public tags and aliases (multi-arch manifest lists, by digest).",
    technologies: ["docker"],
    example: { dryRun: true },
  },
  // It asks git (ls-remote) and registries (HTTP) what moved; it runs no docker command.
  "update-pins": {
    description: "Moves the pins in images/ to the current upstream commits and base image digests; --check only reports them.",
    technologies: [],
    example: { check: true },
  },
  status: {
    description: "Writes the state of every build and publish (dist/status/index.html and status.json); --serve serves it live on 127.0.0.1:8080.",
    technologies: [],
    example: { serve: true },
  },
} as const satisfies Record<string, { description: string; technologies: readonly string[]; example: Record<string, unknown> }>;

type TargetKind = keyof typeof TARGET_INFO;
type TargetMetadata = NonNullable<TargetConfiguration["metadata"]>;

function targetMetadata(project: string, target: string): TargetMetadata {
  const info = TARGET_INFO[(target.startsWith("build-") ? "build" : target) as TargetKind];
  return {
    description: info.description,
    ...(info.technologies.length > 0 ? { technologies: [...info.technologies] } : {}),
    // The graph's project view runs this command and shows its output: every option, from the executor's schema.
    help: { command: `npx nx run ${project}:${target} --help`, example: Object.keys(info.example).length > 0 ? { options: { ...info.example } } : {} },
  };
}

/** The targets of an image, grouped as `nx show project --web` and editor consoles list them. */
function targetGroups(targets: readonly string[]): Record<string, string[]> {
  const groups: Record<string, string[]> = {
    render: targets.filter((t) => t === "render"),
    build: targets.filter((t) => t.startsWith("build-")),
    publish: targets.filter((t) => t === "publish"),
  };
  return Object.fromEntries(Object.entries(groups).filter(([, members]) => members.length > 0));
}
