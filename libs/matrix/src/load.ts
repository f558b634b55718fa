/**
 * Reads and validates images/. Every problem becomes one line naming the
 * file and the field, and nothing is returned until all files are valid.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { z } from "zod";
import type { Distro, Matrix, OpamBuild } from "../../distros/src";
import { parseRange, parseVersion } from "../../ocaml/src";
import { describeIssue, describeJsonError } from "./problems";
import {
  compilersFileSchema,
  distroFileSchema,
  opamFileSchema,
  opamRepositoryFileSchema,
  type CompilersFile,
  type DistroFile,
  type OpamFile,
  type OpamRepositoryFile,
} from "./schema";

export class MatrixError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
    this.name = "MatrixError";
  }
}

/** The files that make up the matrix, relative to the workspace root. */
export const MATRIX_FILES = {
  compilers: "images/compilers.json",
  opam: "images/opam.json",
  opamRepository: "images/opam-repository.json",
} as const;

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

function toDistro(file: string, name: string, d: DistroFile): Distro {
  const arches = Object.fromEntries(Object.entries(d.arches).map(([arch, range]) => [arch, parseRange(range ?? "")]));
  const gcc = d.gcc?.split(".").map(Number);
  return {
    name,
    file,
    family: d.family,
    version: d.version,
    title: d.title,
    base: d.base,
    arches,
    tier: d.tier,
    aliases: d.aliases,
    isDefault: d.default,
    prereleases: d.prereleases,
    ...(d.bubblewrap === undefined ? {} : { bubblewrap: d.bubblewrap.split(".").map(Number) }),
    ...(gcc === undefined ? {} : { gcc: [gcc[0] ?? 0, gcc[1] ?? 0] as const }),
    gnuCoreutils: d.gnuCoreutils,
    ...(d.rpm === undefined ? {} : { rpm: d.rpm }),
    ...(d.windows === undefined ? {} : { windows: d.windows }),
  };
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
    const name = source.file.split("/").at(-2) ?? source.file;
    const parsed = parseFile(distroFileSchema, source, problems);
    if (!parsed) continue;
    for (const tag of [name, ...parsed.aliases]) {
      const other = claimed.get(tag);
      if (other) problems.push(`${source.file}: aliases: "${tag}" is already a name of ${other}`);
      claimed.set(tag, source.file);
    }
    distros.push(toDistro(source.file, name, parsed));
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
  // One folder per distro: images/<name>/image.json.
  const distroFiles = readdirSync(join(root, "images"), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && statSync(join(root, "images", entry.name, "image.json"), { throwIfNoEntry: false }))
    .map((entry) => `images/${entry.name}/image.json`)
    .sort();
  return parseMatrix({
    distros: distroFiles.map(read),
    compilers: read(MATRIX_FILES.compilers),
    opam: read(MATRIX_FILES.opam),
    opamRepository: read(MATRIX_FILES.opamRepository),
  });
}
