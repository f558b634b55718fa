/**
 * The layout of dist/: the one place its paths and the Nx globs over them are
 * spelled. Everything a task writes lives under dist/images/<image>/ (the
 * render's files and a real run's records) or, for a dry run, under
 * dist/dry-run/<image>/, so a dry run's records can never replace a real one's.
 */

/** A real run's records, or a dry run's. */
export type RecordMode = "real" | "dry";

const DIST = "dist";
const IMAGES = `${DIST}/images`;
const DRY_RUN = `${DIST}/dry-run`;

const recordsDir = (mode: RecordMode, image: string): string => `${mode === "real" ? IMAGES : DRY_RUN}/${image}`;

/** Paths relative to the workspace root. */
export const DIST_LAYOUT = {
  dir: DIST,
  images: IMAGES,
  dryRun: DRY_RUN,
  /** Where `nx run images:status` writes index.html and status.json. */
  status: `${DIST}/status`,
  renderDir: (image: string) => `${IMAGES}/${image}/render`,
  dockerfile: (image: string, arch: string) => `${IMAGES}/${image}/render/${arch}.Dockerfile`,
  context: (image: string) => `${IMAGES}/${image}/render/context.json`,
  manifests: (image: string) => `${IMAGES}/${image}/render/manifests.json`,
  recordsDir,
  buildRecord: (mode: RecordMode, image: string, arch: string) => `${recordsDir(mode, image)}/build-${arch}.json`,
  buildRun: (mode: RecordMode, image: string, arch: string) => `${recordsDir(mode, image)}/build-${arch}.run.json`,
  publishRecord: (mode: RecordMode, image: string) => `${recordsDir(mode, image)}/publish.json`,
  publishRun: (mode: RecordMode, image: string) => `${recordsDir(mode, image)}/publish.run.json`,
} as const;

const inWorkspace = (path: string): string => `{workspaceRoot}/${path}`;

/**
 * A record as an Nx output: the real path, unless the task's options say
 * `dryRun` (from the plugin's graph-time setting or `--dryRun`); then the
 * dry-run path instead. `{options.dryRun}/..` resolves to nothing when set and
 * drops the output when not, so a dry task never declares, caches or restores
 * a real record (Nx would otherwise restore the real record it saw at the end
 * of a dry run over a newer one).
 */
function recordOutputs(real: string, dry: string): string[] {
  const withToken = (path: string) => path.replace(/\/([^/]+)$/, "/{options.dryRun}/../$1");
  return [inWorkspace(real), `!${inWorkspace(withToken(real))}`, inWorkspace(withToken(dry))];
}

/**
 * A record's outputs for a graph made in `graphMode`. A dry graph's tasks are dry
 * whatever their overrides (`--dryRun=false` is refused), so they declare the
 * dry-run path alone, as a plain path: Nx expands an output with a token or a
 * negation by walking the workspace, once per task, even with nothing to do.
 */
const recordOutputsFor = (graphMode: RecordMode, real: string, dry: string): string[] =>
  graphMode === "dry" ? [inWorkspace(dry)] : recordOutputs(real, dry);

/** The outputs and dependency inputs of each target, as Nx reads them. */
export const NX_PATHS = {
  renderOutputs: (image: string) => [inWorkspace(DIST_LAYOUT.renderDir(image))],
  buildOutputs: (graphMode: RecordMode, image: string, arch: string) =>
    recordOutputsFor(graphMode, DIST_LAYOUT.buildRecord("real", image, arch), DIST_LAYOUT.buildRecord("dry", image, arch)),
  publishOutputs: (graphMode: RecordMode, image: string) =>
    recordOutputsFor(graphMode, DIST_LAYOUT.publishRecord("real", image), DIST_LAYOUT.publishRecord("dry", image)),
  /** A dependency's files a task reads (its hash holds them): `dependentTasksOutputFiles` globs. */
  dockerfileOf: (arch: string) => `**/render/${arch}.Dockerfile`,
  context: "**/render/context.json",
  manifests: "**/render/manifests.json",
  buildRecordOf: (arch: string) => `**/build-${arch}.json`,
} as const;

/** The command that writes a file again, for the line that refuses a damaged one. */
export const REDO = {
  render: (image: string) => `npx nx run ${image}:render --skip-nx-cache`,
  build: (mode: RecordMode, image: string, arch: string) => `${mode === "dry" ? "OBI_DRY_RUN=1 " : ""}npx nx run ${image}:build-${arch} --skip-nx-cache`,
  publish: (mode: RecordMode, image: string) => `${mode === "dry" ? "OBI_DRY_RUN=1 " : ""}npx nx run ${image}:publish --skip-nx-cache`,
} as const;
