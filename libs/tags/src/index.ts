/**
 * Image tags. Per-arch builds go to a staging repository
 * (`<staging>:debian-13-ocaml-4.14-amd64`); public tags are manifest lists
 * (`<public>:debian-13-ocaml-4.14`) plus aliases that follow the newest
 * distro and compiler (`debian`, `debian-ocaml-4.14`, `latest`).
 */
import { parseRepository, tagIn, type Repository } from "../../docker/src/reference";
import { formatVersion, sameVersion, withoutPatch, type OcamlVersion } from "../../ocaml/src";

export interface Repositories {
  /** Where per-arch builds are pushed before they are joined, e.g. `ocurrent/opam-staging`. */
  readonly staging: string;
  /** Where the multi-arch manifests are published, e.g. `ocaml/opam`. */
  readonly public: string;
}

export const UPSTREAM_REPOSITORIES: Repositories = { staging: "ocurrent/opam-staging", public: "ocaml/opam" };

/** `4.14.3+flambda+fp` → `4.14-flambda-fp`; `5.5.0~beta1` → `5.5-beta1`. */
export function compilerTag(compiler: OcamlVersion): string {
  return formatVersion(withoutPatch(compiler), { separator: "-", prereleaseSeparator: "-" }).replace(/[+~]/g, "-");
}

/** The image name within a repository: `debian-13-opam`, `debian-13-ocaml-4.14-flambda`. */
export function imageName(distroTag: string, compiler?: OcamlVersion): string {
  return `${distroTag}-${compiler ? `ocaml-${compilerTag(compiler)}` : "opam"}`;
}

/** The name of an image's per-arch tag in the staging repository: `debian-13-opam-amd64`. */
export const stagingTagName = (image: string, arch: string): string => `${image}-${arch}`;
/** Each repository option read once (a plan makes thousands of tags in a few). */
const repositories = new Map<string, Repository>();
function repository(text: string, what: string): Repository {
  let repo = repositories.get(text);
  if (!repo) repositories.set(text, (repo = parseRepository(text, what)));
  return repo;
}

/** A tag in the staging repository, as docker writes it: `<staging>:<name>`. */
export const stagingTagOf = (repos: Repositories, name: string): string => tagIn(repository(repos.staging, "the staging repository"), name);
export const stagingTag = (repos: Repositories, image: string, arch: string): string => stagingTagOf(repos, stagingTagName(image, arch));
export const publicTag = (repos: Repositories, name: string): string => tagIn(repository(repos.public, "the public repository"), name);

export const ARCHIVE = "archive";
export const LATEST = "latest";
/** Windows distros of one port are also published together: `windows-mingw` → `windows-all-mingw`. */
export const windowsAllGroup = (group: string): string => group.replace(/^windows-/, "windows-all-");

/**
 * Why a distro name or alias would collide with a name the plan makes, or
 * undefined. Taken: `latest`, `archive`, `windows-all…`; and names shaped like
 * an image name (`…-opam`, `…-ocaml-…`), which could equal another distro's.
 */
export function reservedNameProblem(name: string): string | undefined {
  if (name === LATEST || name === ARCHIVE || name.startsWith("windows-all")) return "a name the plan gives its own images";
  if (name.endsWith("-opam") || name.includes("-ocaml-")) return "shaped like an image name (…-opam, …-ocaml-…), which could be another distro's";
  return undefined;
}

export interface AliasFacts {
  /** The distro's image prefix, e.g. `debian-13`. */
  readonly distro: string;
  /** Other names of the distro, e.g. `debian` (Linux) or `windows-mingw`. */
  readonly aliases: readonly string[];
  readonly os: "linux" | "windows";
  /** The default distro's latest compiler is also `latest`. */
  readonly isDefault: boolean;
}

/**
 * Every public name of one compiler image, in publishing order. Each image is
 * published under its own name and the same name for each distro alias. The
 * latest compiler also takes the distro's bare name; on Linux the aliases'
 * bare names too, and the default distro's takes `latest`.
 */
export function compilerImageNames(facts: AliasFacts, compiler: OcamlVersion, latest: OcamlVersion): string[] {
  const names = [imageName(facts.distro, compiler), ...facts.aliases.map((a) => imageName(a, compiler))];
  if (!sameVersion(compiler, latest)) return names;
  if (facts.os === "windows") return [facts.distro, ...names];
  return [...(facts.isDefault ? [LATEST] : []), ...facts.aliases, facts.distro, ...names];
}

/** Names of a multi-distro Windows manifest: `windows-all-mingw-ocaml-5.4`, and `windows-all-mingw` for the latest. */
export function windowsAllNames(group: string, compiler: OcamlVersion, latest: OcamlVersion): string[] {
  const full = imageName(group, compiler);
  return sameVersion(compiler, latest) ? [group, full] : [full];
}
