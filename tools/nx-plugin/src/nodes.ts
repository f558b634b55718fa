/**
 * Maps the plan to Nx projects: one per image, named like its public tag,
 * with `render`, one `build-<arch>` per arch and `publish`. Pure: the same
 * plan and options give the same configuration, so Nx can cache the graph.
 */
import type { ProjectConfiguration, TargetConfiguration, TargetDependencyConfig } from "@nx/devkit";
import { IMAGES_LAYOUT } from "../../../libs/matrix/src/layout";
import type { Build, Image, ImageKind, Plan } from "../../../libs/plan/src";
import { imageAbout } from "../../../libs/plan/src/about";
import { builderKeyOf, normalizeBuilder } from "./builders";
import { codeInputsOf, type CachedExecutor, type CodeInputs } from "./code-inputs";
import { NX_PATHS, type RecordMode } from "../../../libs/records/src/layout";
import { builderEnv, ENV, rebuildPeriodCommand, type PluginOptions } from "./config";

/** Where the plugin's executors live, relative to the workspace root. */
const EXECUTORS = "./tools/nx-plugin";

/** The named input (in each image project) that holds an executor's code inputs. */
export const CODE_INPUT = { render: "render-code", build: "build-code", publish: "publish-code" } as const satisfies Record<CachedExecutor, string>;

/** A dry run's records go elsewhere (libs/records/src/layout.ts); a task's options say `dryRun` only when it is one. */
const dryRunOption = (options: PluginOptions) => (options.dryRun ? { dryRun: true } : {});
/** Whether the graph's tasks run dry by default (OBI_DRY_RUN or the plugin's option, read when Nx makes the graph). */
const graphModeOf = (options: PluginOptions): RecordMode => (options.dryRun ? "dry" : "real");

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
  deprecated: ["$schema", "title"],
};

/** What a deprecation image reads of the active Alpine it takes its base from. */
export const DEPRECATION_BASE_FIELDS = ["base"] as const;

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
    case "deprecated":
      // Its former tags come from its own file and the compilers; its FROM from the newest active Alpine's base.
      return [
        distroFile(image.distro),
        compilers,
        ...(image.retired ? [{ json: inWorkspace(IMAGES_LAYOUT.distroFile(image.retired.baseDistro)), fields: [...DEPRECATION_BASE_FIELDS] }] : []),
      ];
  }
}

function renderTarget(image: Image, index: PlanIndex, options: PluginOptions): TargetConfiguration {
  return {
    executor: `${EXECUTORS}:render`,
    options: {
      image: image.name,
      stagingRepo: options.stagingRepo,
      publicRepo: options.publicRepo,
      site: options.site,
      deprecationGraceDays: options.deprecationGraceDays,
    },
    inputs: [
      ...dataInputs(image, index),
      CODE_INPUT.render,
      { env: ENV.stagingRepo },
      { env: ENV.publicRepo },
    ],
    outputs: NX_PATHS.renderOutputs(image.name),
    cache: true,
    metadata: targetMetadata(image.name, "render"),
  };
}

/** Lookups over the whole plan, and each executor's code inputs, made once per graph computation. */
interface PlanIndex {
  readonly plan: Plan;
  readonly buildById: ReadonlyMap<string, Build>;
  readonly distroOf: ReadonlyMap<string, string>;
  readonly code: Readonly<Record<CachedExecutor, readonly Input[]>>;
}

function indexPlan(plan: Plan, code: CodeInputs): PlanIndex {
  const builds = plan.images.flatMap((i) => i.builds);
  return {
    plan,
    buildById: new Map(builds.map((b) => [b.id, b])),
    distroOf: new Map(plan.images.map((i) => [i.name, i.distro])),
    code: { render: codeInputsOf(code.render), build: codeInputsOf(code.build), publish: codeInputsOf(code.publish) },
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
      ...dryRunOption(options),
      builtinFrontend: options.builtinFrontend,
      rebuildPeriodDays: options.rebuildPeriodDays,
      about: imageAbout(image),
      imageMetadata: options.imageMetadata,
      attestations: options.attestations,
    },
    // A build is decided by its own Dockerfile and context (not the other arches' nor
    // the image's tags), its parent's record, the builder and the build executor's code; nothing else.
    inputs: [
      { dependentTasksOutputFiles: NX_PATHS.dockerfileOf(arch), transitive: false },
      { dependentTasksOutputFiles: NX_PATHS.context, transitive: false },
      { dependentTasksOutputFiles: NX_PATHS.buildRecordOf(arch), transitive: false },
      CODE_INPUT.build,
      { env: ENV.stagingRepo },
      { env: builderEnv(builderKey) },
      { env: ENV.dryRun },
      // The scheduled rebuild: a new period is a new hash for every build.
      { runtime: rebuildPeriodCommand(options.rebuildPeriodDays) },
    ],
    outputs: NX_PATHS.buildOutputs(graphModeOf(options), image.name, arch),
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
      ...dryRunOption(options),
      about: imageAbout(image),
      imageMetadata: options.imageMetadata,
    },
    inputs: [
      { dependentTasksOutputFiles: NX_PATHS.manifests, transitive: false },
      // The records of the builds it joins (not how they ran: a reused build is the same build).
      ...(image.kind === "windows-all" ? ["amd64"] : arches).map((arch): Input => ({ dependentTasksOutputFiles: NX_PATHS.buildRecordOf(arch), transitive: false })),
      CODE_INPUT.publish,
      { env: ENV.stagingRepo },
      { env: ENV.publicRepo },
      { env: ENV.dryRun },
    ],
    outputs: NX_PATHS.publishOutputs(graphModeOf(options), image.name),
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
    // Each executor's code, named once per project rather than copied into each of its targets.
    namedInputs: { [CODE_INPUT.render]: [...index.code.render], [CODE_INPUT.build]: [...index.code.build], [CODE_INPUT.publish]: [...index.code.publish] },
    targets,
    metadata: {
      description: imageAbout(image).description,
      ...(image.compiler ? { compiler: image.compiler } : {}),
      tags: image.manifests.map((m) => m.tag),
      technologies: ["docker"],
      targetGroups: targetGroups(Object.keys(targets)),
    },
  };
}

/** What an image says of itself in its labels and lists: fixed by the image, whichever commit or arch. */
/**
 * Projects by the file that declares them: a distro's images belong to its
 * image.json; the archive to the default distro's; multi-distro manifests to
 * their newest part's.
 */
export function projectsByFile(plan: Plan, options: PluginOptions, code: CodeInputs): Map<string, Record<string, ProjectConfiguration>> {
  const byFile = new Map<string, Record<string, ProjectConfiguration>>();
  const index = indexPlan(plan, code);
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
          deprecationGraceDays: options.deprecationGraceDays,
          rebuildPeriodDays: options.rebuildPeriodDays,
          builtinFrontend: options.builtinFrontend,
          imageMetadata: options.imageMetadata,
        },
        cache: false,
        metadata: targetMetadata("images", "status"),
      },
      // The repository description: `nx run images:describe` writes docs/tags.md.
      describe: {
        executor: `${EXECUTORS}:describe`,
        options: {
          stagingRepo: options.stagingRepo,
          publicRepo: options.publicRepo,
          site: options.site,
          deprecationGraceDays: options.deprecationGraceDays,
        },
        // It writes a committed file, by the clock: never from a cache.
        cache: false,
        metadata: targetMetadata("images", "describe"),
      },
      // Old staging builds nothing names: `nx run images:prune-staging [--confirm]`.
      "prune-staging": {
        executor: `${EXECUTORS}:prune-staging`,
        options: {
          stagingRepo: options.stagingRepo,
          publicRepo: options.publicRepo,
          registry: options.registry,
          site: options.site,
          deprecationGraceDays: options.deprecationGraceDays,
          rebuildPeriodDays: options.rebuildPeriodDays,
          keepPeriods: options.pruneKeepPeriods,
        },
        // It reads the registry as it is now: never from a cache.
        cache: false,
        metadata: targetMetadata("images", "prune-staging"),
      },
    },
    metadata: { description: "the declared matrix and its pins", targetGroups: { pins: ["update-pins"], status: ["status"], staging: ["prune-staging"], describe: ["describe"] } },
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
  describe: {
    description: "Writes the repository description (docs/tags.md, markdown) from the plan: every public tag by distro and compiler, aliases, arches, deprecated tags.",
    technologies: [],
    example: { output: "dist/description.md" },
  },
  "prune-staging": {
    description: "Deletes staging manifests no current public list or build record names, built more than keepPeriods rebuild periods ago; a dry run unless --confirm.",
    technologies: ["docker"],
    example: { confirm: true },
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
