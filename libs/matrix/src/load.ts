/**
 * Reads and validates images/. Every problem becomes one line naming the
 * file and the field, and nothing is returned until all files are valid.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { z } from "zod";
import { FAMILY_FACTS, familyUses, type Distro, type DistroBase, type Matrix, type OpamBuild } from "../../distros/src";
import { parseRange, parseVersion } from "../../ocaml/src";
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
} from "./schema";
import { IMAGES_LAYOUT } from "./layout";

export class MatrixError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
    this.name = "MatrixError";
  }
}

type Source = { readonly file: string; readonly text: string };

function parseFile<S extends z.ZodType>(schema: S, source: Source, problems: string[]): z.output<S> | undefined {
  let json: unknown;
  try {
    json = JSON.parse(source.text);
  } catch (e) {
    problems.push(describeJsonError(source.file, source.text, e as Error));
    return undefined;
  }
  const result = schema.safeParse(json, { reportInput: true });
  if (result.success) return result.data;
  for (const issue of result.error.issues) for (const line of describeIssue(issue, schema)) problems.push(`${source.file}: ${line}`);
  return undefined;
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
    status: d.status,
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

/** Validates the matrix from file contents (paths relative to the workspace root). */
export function parseMatrix(sources: {
  distros: readonly Source[];
  compilers: Source;
  opam: Source;
  opamRepository: Source;
}): Matrix {
  const problems: string[] = [];
  const compilers = parseFile(compilersFileSchema, sources.compilers, problems);
  const opam = parseFile(opamFileSchema, sources.opam, problems);
  const repository = parseFile(opamRepositoryFileSchema, sources.opamRepository, problems);
  const distros: Distro[] = [];
  const claimed = new Map<string, string>();
  for (const source of sources.distros) {
    const name = IMAGES_LAYOUT.distroOfFile(source.file) ?? source.file;
    const parsed = parseFile(distroFileSchema, source, problems);
    if (!parsed) continue;
    for (const tag of [name, ...parsed.aliases]) {
      const other = claimed.get(tag);
      if (other) problems.push(`${source.file}: aliases: "${tag}" is already a name of ${other}`);
      claimed.set(tag, source.file);
    }
    const distro = toDistro(source.file, name, parsed, problems);
    if (distro) distros.push(distro);
  }
  const defaults = distros.filter((d) => d.isDefault);
  if (problems.length === 0 && defaults.length !== 1) {
    const where = defaults.length ? defaults.map((d) => d.file).join(", ") : sources.distros.map((s) => s.file).join(", ");
    problems.push(`${where}: default: exactly one distro must be the default, found ${defaults.length}`);
  }
  if (problems.length || !compilers || !opam || !repository) throw new MatrixError(problems);
  return { distros, releases: toReleases(compilers), opam: toOpamBuilds(opam, repository) };
}

/** Reads the matrix under `root` (the workspace root). */
export function loadMatrix(root: string): Matrix {
  const read = (file: string): Source => {
    try {
      return { file, text: readFileSync(join(root, file), "utf8") };
    } catch (e) {
      throw new MatrixError([`${file}: (top level): cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`]);
    }
  };
  // One folder per distro, each with its distro file.
  const distroFiles = readdirSync(join(root, IMAGES_LAYOUT.dir), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => IMAGES_LAYOUT.distroFile(entry.name))
    .filter((file) => statSync(join(root, file), { throwIfNoEntry: false }))
    .sort();
  return parseMatrix({
    distros: distroFiles.map(read),
    compilers: read(IMAGES_LAYOUT.compilers),
    opam: read(IMAGES_LAYOUT.opam),
    opamRepository: read(IMAGES_LAYOUT.opamRepository),
  });
}

/** Reads images/upstream.json: which upstream releases the data and recipes follow. */
export function loadUpstream(root: string): UpstreamFile {
  const file = IMAGES_LAYOUT.upstream;
  let text: string;
  try {
    text = readFileSync(join(root, file), "utf8");
  } catch (e) {
    throw new MatrixError([`${file}: (top level): cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`]);
  }
  const problems: string[] = [];
  const upstream = parseFile(upstreamFileSchema, { file, text }, problems);
  if (!upstream) throw new MatrixError(problems);
  return upstream;
}
