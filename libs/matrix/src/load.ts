/**
 * Reads and validates images/. Every problem becomes one line naming the
 * file and the field, and nothing is returned until all files are valid.
 */
import { lstatSync } from "node:fs";
import { join } from "node:path";
import type { z } from "zod";
import { FAMILY_FACTS, familyUses, type Distro, type DistroBase, type Matrix, type OpamBuild } from "../../distros/src";
import { parseRange, parseVersion } from "../../ocaml/src";
import { reservedNameProblem } from "../../tags/src";
import { describeIssue, describeJsonError, fieldPath } from "./problems";
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
import { ImagesReadError, listImagesFolder, readImagesFile, type Source } from "./read";
import { unsafeCharacter } from "./text";

export { MAX_FILE_BYTES, type Source } from "./read";

export class MatrixError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    // One problem can be found twice (a link is refused by the layout and by its reader): say it once.
    const unique = [...new Set(problems)];
    super(unique.join("\n"));
    this.problems = unique;
    this.name = "MatrixError";
  }
}

/** Past this many problems in one file the rest are counted, not listed: a broken list can hold thousands. */
const MAX_PROBLEMS_PER_FILE = 20;

/** A field's place as a chain up to the top: deep nesting costs no copies. */
interface Place {
  readonly up?: Place;
  readonly key: PropertyKey;
}
const pathOf = (place: Place | undefined): PropertyKey[] => {
  const keys: PropertyKey[] = [];
  for (let p = place; p; p = p.up) keys.push(p.key);
  return keys.reverse();
};

/**
 * The first string (key or value) holding a control or bidirectional
 * character: where and which. Walked with a stack of its own, not recursion:
 * a 1 MiB file can nest half a million lists.
 */
function unsafeText(json: unknown): { path: PropertyKey[]; character: string } | undefined {
  const todo: { value: unknown; place?: Place }[] = [{ value: json }];
  for (let item = todo.pop(); item; item = todo.pop()) {
    const { value, place } = item;
    if (typeof value === "string") {
      const character = unsafeCharacter(value);
      if (character) return { path: pathOf(place), character };
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    // Pushed last first, so the first problem in the file's order is found first.
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) todo.push({ value: value[i] as unknown, place: { up: place, key: i } });
      continue;
    }
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i] as string;
      const here: Place = { up: place, key };
      todo.push({ value: (value as Record<string, unknown>)[key], place: here });
      todo.push({ value: key, place: here });
    }
  }
  return undefined;
}

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
  const unsafe = unsafeText(json);
  if (unsafe) {
    // Refused before any check quotes the text; the file's claims are unknown.
    problems.push(`${source.file}: ${fieldPath(unsafe.path)}: holds ${unsafe.character}; text in images/ may not hold control or bidirectional characters`);
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

/**
 * How the loader reads images/ (paths relative to the workspace root): the
 * disk, or an Nx generator's Tree, whose pending changes are checked before
 * anything is written.
 */
export interface ImagesReader {
  /** A folder's entries by kind, sorted by name. */
  list(folder: string): FolderListing;
  /** Whether there is an entry at `file` (of any kind: a link there is read, that is refused, not skipped). */
  exists(file: string): boolean;
  /** A file's text, or why it was not read. */
  source(file: string): Source;
}

/** images/ on disk, under `root` (the workspace root): regular files of ours only (read.ts). */
export function diskReader(root: string): ImagesReader {
  return {
    list: (folder) => listImagesFolder(root, folder),
    exists: (file) => lstatSync(join(root, file), { throwIfNoEntry: false }) !== undefined,
    source: (file) => readImagesFile(root, file),
  };
}

/** Reads the matrix through `reader`. */
export function loadMatrixFrom(reader: ImagesReader): Matrix {
  try {
    const list = (folder: string) => reader.list(folder);
    // One folder per distro, each with its distro file; anything else under images/ is refused by name.
    const layoutProblems = IMAGES_LAYOUT.unknownEntries(list);
    const distroFiles = IMAGES_LAYOUT.distroFolders(list(IMAGES_LAYOUT.dir))
      .map((folder) => IMAGES_LAYOUT.distroFile(folder))
      .filter((file) => reader.exists(file));
    return parseMatrix(
      {
        distros: distroFiles.map((file) => reader.source(file)),
        compilers: reader.source(IMAGES_LAYOUT.compilers),
        opam: reader.source(IMAGES_LAYOUT.opam),
        opamRepository: reader.source(IMAGES_LAYOUT.opamRepository),
      },
      layoutProblems,
    );
  } catch (e) {
    if (e instanceof ImagesReadError) throw new MatrixError([e.message]);
    throw e;
  }
}

/** Reads the matrix under `root` (the workspace root). */
export function loadMatrix(root: string): Matrix {
  return loadMatrixFrom(diskReader(root));
}

/** Reads images/upstream.json: which upstream releases the data and recipes follow. */
export function loadUpstream(root: string): UpstreamFile {
  const problems: string[] = [];
  const upstream = parseFile(upstreamFileSchema, readImagesFile(root, IMAGES_LAYOUT.upstream), problems).data;
  if (!upstream) throw new MatrixError(problems);
  return upstream;
}

/** One file of images/ as JSON, read like the matrix's files (a link or a FIFO is refused); for tools that rewrite it. */
export function loadJson(root: string, file: string): unknown {
  const source = readImagesFile(root, file);
  if (source.kind === "refused") throw new MatrixError([source.problem]);
  try {
    return JSON.parse(source.text);
  } catch (e) {
    throw new MatrixError([describeJsonError(file, source.text, e as Error)]);
  }
}
