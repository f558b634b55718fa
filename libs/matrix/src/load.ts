/**
 * Reads and validates images/. Every problem becomes one line naming the
 * file and the field, and nothing is returned until all files are valid.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { z } from "zod";
import { FAMILY_FACTS, familyUses, type Distro, type DistroBase, type Matrix, type OpamBuild } from "../../distros/src";
import { parseRange, parseVersion } from "../../ocaml/src";
import { reservedNameProblem } from "../../tags/src";
import { describeIssue, describeJsonError } from "./problems";
import {
  compilersFileSchema,
  distroFileSchema,
  opamFileSchema,
  opamRepositoryFileSchema,
  upstreamFileSchema,
  type CompilersFile,
  type DistroFile,
  type OpamFile,
  type OpamRepositoryFile,
  type UpstreamFile,
  nameSchema,
} from "./schema";
import { IMAGES_LAYOUT, type FolderListing } from "./layout";

export class MatrixError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
    this.name = "MatrixError";
  }
}

/**
 * The largest file under images/ that is read: the largest today is under
 * 2 KB, and a megabyte still parses and validates in milliseconds, so a
 * runaway file is refused before it can stall or exhaust the plan.
 */
export const MAX_FILE_BYTES = 1024 * 1024;
/** Past this many problems in one file the rest are counted, not listed: a broken list can hold thousands. */
const MAX_PROBLEMS_PER_FILE = 20;

/** A file of images/ (path relative to the workspace root): its text, or why it was not read. */
export type Source =
  | { readonly kind: "read"; readonly file: string; readonly text: string }
  | { readonly kind: "refused"; readonly file: string; readonly problem: string };

/** A file's JSON (if it is JSON at all) and its validated contents (if valid). */
interface Parsed<T> {
  readonly json?: unknown;
  readonly data?: T;
}

function parseFile<S extends z.ZodType>(schema: S, source: Source, problems: string[]): Parsed<z.output<S>> {
  if (source.kind === "refused") {
    problems.push(source.problem);
    return {};
  }
  let json: unknown;
  try {
    json = JSON.parse(source.text);
  } catch (e) {
    problems.push(describeJsonError(source.file, source.text, e as Error));
    return {};
  }
  const result = schema.safeParse(json, { reportInput: true });
  if (result.success) return { json, data: result.data };
  const lines = result.error.issues.flatMap((issue) => describeIssue(issue, schema)).map((line) => `${source.file}: ${line}`);
  problems.push(...lines.slice(0, MAX_PROBLEMS_PER_FILE));
  if (lines.length > MAX_PROBLEMS_PER_FILE) problems.push(`${source.file}: … and ${lines.length - MAX_PROBLEMS_PER_FILE} more problems`);
  return { json };
}

/**
 * What other files are checked against (names, family and version, default),
 * read field by field, so a file with a problem elsewhere still takes part in
 * the checks across files. A field that is itself invalid is unknown.
 */
interface Claims {
  readonly file: string;
  readonly name: string;
  readonly family?: DistroFile["family"];
  readonly version?: string;
  /** Windows distros of one version differ by port (mingw, msvc). */
  readonly port?: "mingw" | "msvc";
  readonly aliases: readonly string[];
  readonly isDefault?: boolean;
}

function claimsOf(file: string, name: string, json: unknown): Claims {
  const fields = json !== null && typeof json === "object" && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined;
  const field = <T>(schema: z.ZodType<T>, key: string): T | undefined => {
    if (!fields) return undefined;
    const result = schema.safeParse(fields[key]);
    return result.success ? result.data : undefined;
  };
  const shape = distroFileSchema.shape;
  return {
    file,
    name,
    family: field(shape.family, "family"),
    version: field(shape.version, "version"),
    port: field(shape.windows, "windows")?.port,
    aliases: field(shape.aliases, "aliases") ?? [],
    isDefault: field(shape.default, "default"),
  };
}

/**
 * Builds the distro of one file: the facts its family's package manager needs
 * are required, and facts for other families refused, here and only here.
 */
function toDistro(file: string, name: string, d: DistroFile, problems: string[]): Distro | undefined {
  const gcc = d.gcc?.split(".").map(Number);
  const base: DistroBase = {
    name,
    file,
    version: d.version,
    title: d.title,
    // Checked below: a deprecated distro says when; an active one has no such day.
    status: d.status === "deprecated" ? { state: "deprecated", since: d.deprecatedOn ?? "" } : { state: "active" },
    base: d.base,
    arches: Object.fromEntries(Object.entries(d.arches).map(([arch, range]) => [arch, parseRange(range ?? "")])),
    tier: d.tier,
    aliases: d.aliases,
    isDefault: d.default,
    prereleases: d.prereleases,
    ...(d.bubblewrap === undefined ? {} : { bubblewrap: d.bubblewrap.split(".").map(Number) }),
    ...(gcc === undefined ? {} : { gcc: [gcc[0] ?? 0, gcc[1] ?? 0] as const }),
    ...(d.builtinOcaml === undefined ? {} : { builtinOcaml: parseVersion(d.builtinOcaml) }),
  };
  if (d.status === "deprecated") {
    // A deprecated distro is built nowhere, so no name may lead to it.
    for (const alias of d.aliases) {
      problems.push(`${file}: aliases: a deprecated distro has no aliases; move "${alias}" to the distro that replaces it`);
    }
    if (d.default) problems.push(`${file}: default: a deprecated distro cannot be the default`);
    if (d.deprecatedOn === undefined) problems.push(`${file}: deprecatedOn: required for a deprecated distro: the day it was deprecated (YYYY-MM-DD)`);
  } else if (d.deprecatedOn !== undefined) {
    problems.push(`${file}: deprecatedOn: only for a deprecated distro ("status": "deprecated"); got "${d.deprecatedOn}"`);
  }
  const refuse = (field: "rpm" | "windows" | "gnuCoreutils", present: boolean, what: string) => {
    if (present) problems.push(`${file}: ${field}: only for ${what}`);
  };
  const require = <T>(field: "rpm" | "windows", value: T | undefined, what: string): value is T => {
    if (value === undefined) problems.push(`${file}: ${field}: required for ${what}`);
    return value !== undefined;
  };
  const family = d.family;
  refuse("rpm", d.rpm !== undefined && !familyUses(family, "rpm"), "rpm-based families");
  refuse("windows", d.windows !== undefined && FAMILY_FACTS[family].os !== "windows", "Windows families");
  refuse("gnuCoreutils", d.gnuCoreutils && !familyUses(family, "apt"), "apt-based families");
  const linux = { ...base, os: "linux" } as const;
  if (familyUses(family, "apk")) return { ...linux, family, packageManager: "apk" };
  if (familyUses(family, "apt")) return { ...linux, family, packageManager: "apt", gnuCoreutils: d.gnuCoreutils };
  if (familyUses(family, "zypper")) return { ...linux, family, packageManager: "zypper" };
  if (familyUses(family, "pacman")) return { ...linux, family, packageManager: "pacman" };
  if (familyUses(family, "rpm")) {
    return require("rpm", d.rpm, "rpm-based families") ? { ...linux, family, packageManager: "rpm", rpm: d.rpm } : undefined;
  }
  if (familyUses(family, "windows")) {
    return require("windows", d.windows, "Windows families")
      ? { ...base, os: "windows", family, packageManager: "windows", windows: d.windows }
      : undefined;
  }
  const unknown: never = family;
  throw new Error(`no package manager for family ${String(unknown)}`);
}

function toOpamBuilds(o: OpamFile, r: OpamRepositoryFile): Matrix["opam"] {
  const builds: OpamBuild[] = o.builds.map((b) => ({ ...b, publicName: b.publicName ?? `opam-${b.branch}` }));
  const byBranch = (branch: string) => builds.find((b) => b.branch === branch) as OpamBuild;
  return {
    url: o.url,
    builds,
    bootstrap: byBranch(o.bootstrap),
    windowsDefault: byBranch(o.windowsDefault),
    repository: { url: r.url, branch: r.branch, commit: r.commit },
  };
}

function toReleases(c: CompilersFile): Matrix["releases"] {
  return {
    releases: c.releases.map(parseVersion),
    dev: c.dev.map(parseVersion),
    betas: c.betas.map(parseVersion),
    variants: c.variants.map((v) => ({
      options: v.options,
      when: v.when.map((w) => ({ series: parseRange(w.series), ...(w.arches ? { arches: w.arches } : {}) })),
    })),
  };
}

/**
 * Validates the matrix from file contents (paths relative to the workspace
 * root). Every problem of every file is reported, after `found` (problems of
 * the layout): checks across files run on whatever each file lets them read.
 */
export function parseMatrix(
  sources: {
    distros: readonly Source[];
    compilers: Source;
    opam: Source;
    opamRepository: Source;
  },
  found: readonly string[] = [],
): Matrix {
  const problems: string[] = [...found];
  const compilers = parseFile(compilersFileSchema, sources.compilers, problems).data;
  const opam = parseFile(opamFileSchema, sources.opam, problems).data;
  const repository = parseFile(opamRepositoryFileSchema, sources.opamRepository, problems).data;
  const distros: Distro[] = [];
  const everyClaims: Claims[] = [];
  const claimedNames = new Map<string, string>();
  const claimedVersions = new Map<string, string>();
  for (const source of sources.distros) {
    const file = source.file;
    const name = IMAGES_LAYOUT.distroOfFile(file) ?? file;
    // The folder's name is the distro's image prefix: a part of every tag of its images.
    const badName = nameSchema.safeParse(name).error?.issues[0];
    if (badName) problems.push(`${file}: (folder name): ${JSON.stringify(name)} is ${badName.message}`);
    const parsed = parseFile(distroFileSchema, source, problems);
    const claims = claimsOf(file, name, parsed.json);
    everyClaims.push(claims);
    const names: [string, string][] = [[name, "(folder name)"], ...claims.aliases.map((alias, i): [string, string] => [alias, `aliases.${i}`])];
    for (const [tag, field] of names) {
      const reserved = reservedNameProblem(tag);
      if (reserved) problems.push(`${file}: ${field}: ${JSON.stringify(tag)} is ${reserved}`);
    }
    for (const [tag] of names) {
      const other = claimedNames.get(tag);
      if (other) problems.push(`${file}: aliases: "${tag}" is already a name of ${other}`);
      claimedNames.set(tag, file);
    }
    if (claims.family !== undefined && claims.version !== undefined) {
      const key = JSON.stringify([claims.family, claims.version, claims.port]);
      const other = claimedVersions.get(key);
      const what = `${JSON.stringify(claims.version)} of family "${claims.family}"${claims.port ? ` (port ${claims.port})` : ""}`;
      if (other) problems.push(`${file}: version: ${what} is already declared by ${other}`);
      else claimedVersions.set(key, file);
    }
    if (!parsed.data) continue;
    const distro = toDistro(file, name, parsed.data, problems);
    if (distro) distros.push(distro);
  }
  // Two defaults are wrong whatever the unreadable files say; none only if every file could be read.
  const defaults = everyClaims.filter((c) => c.isDefault === true);
  const allRead = everyClaims.every((c) => c.isDefault !== undefined);
  if (defaults.length > 1 || (defaults.length === 0 && allRead)) {
    const where = defaults.length ? defaults.map((d) => d.file).join(", ") : sources.distros.map((s) => s.file).join(", ");
    problems.push(`${where}: default: exactly one distro must be the default, found ${defaults.length}`);
  }
  if (problems.length || !compilers || !opam || !repository) throw new MatrixError(problems);
  return { distros, releases: toReleases(compilers), opam: toOpamBuilds(opam, repository) };
}

/** A file under `root`, unless it is too large or cannot be read (then one line says so). */
function readSource(root: string, file: string): Source {
  const refused = (why: string): Source => ({ kind: "refused", file, problem: `${file}: (top level): ${why}` });
  try {
    const bytes = statSync(join(root, file)).size;
    if (bytes > MAX_FILE_BYTES) {
      const mib = (n: number) => `${Number((n / (1024 * 1024)).toFixed(1))} MiB`;
      return refused(`${mib(bytes)}, more than the ${mib(MAX_FILE_BYTES)} an images/ file may have`);
    }
    return { kind: "read", file, text: readFileSync(join(root, file), "utf8") };
  } catch (e) {
    return refused(`cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** A folder's files and folders, by name and sorted. */
function listFolder(root: string, folder: string): FolderListing {
  const entries = readdirSync(join(root, folder), { withFileTypes: true });
  const names = (keep: (isFolder: boolean) => boolean) =>
    entries
      .filter((e) => keep(e.isDirectory()))
      .map((e) => e.name)
      .sort();
  return { files: names((isFolder) => !isFolder), folders: names((isFolder) => isFolder) };
}

/** Reads the matrix under `root` (the workspace root). */
export function loadMatrix(root: string): Matrix {
  const list = (folder: string) => listFolder(root, folder);
  // One folder per distro, each with its distro file; anything else under images/ is refused by name.
  const layoutProblems = IMAGES_LAYOUT.unknownEntries(list);
  const distroFiles = IMAGES_LAYOUT.distroFolders(list(IMAGES_LAYOUT.dir))
    .map((folder) => IMAGES_LAYOUT.distroFile(folder))
    .filter((file) => statSync(join(root, file), { throwIfNoEntry: false }));
  return parseMatrix(
    {
      distros: distroFiles.map((file) => readSource(root, file)),
      compilers: readSource(root, IMAGES_LAYOUT.compilers),
      opam: readSource(root, IMAGES_LAYOUT.opam),
      opamRepository: readSource(root, IMAGES_LAYOUT.opamRepository),
    },
    layoutProblems,
  );
}

/** Reads images/upstream.json: which upstream releases the data and recipes follow. */
export function loadUpstream(root: string): UpstreamFile {
  const problems: string[] = [];
  const upstream = parseFile(upstreamFileSchema, readSource(root, IMAGES_LAYOUT.upstream), problems).data;
  if (!upstream) throw new MatrixError(problems);
  return upstream;
}
