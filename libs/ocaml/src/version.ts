/**
 * OCaml compiler versions: `MAJOR.MINOR[.PATCH][~PRERELEASE][+VARIANT]`,
 * e.g. `4.14.3`, `5.5.0~beta1`, `4.14.3+flambda+fp`, `5.5~beta1`.
 */
export interface OcamlVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch?: number;
  /** e.g. `beta1` in `5.5.0~beta1`. */
  readonly prerelease?: string;
  /** The variant, e.g. `flambda+fp` in `4.14.3+flambda+fp`. */
  readonly variant?: string;
}

export class VersionError extends Error {}

const VERSION = /^(\d+)\.(\d+)(?:\.(\d+))?(?:~([^+]+))?(?:\+(.+))?$/;

export function parseVersion(text: string): OcamlVersion {
  const m = VERSION.exec(text);
  if (!m) throw new VersionError(`not an OCaml version: "${text}" (expected MAJOR.MINOR[.PATCH][~PRERELEASE][+VARIANT])`);
  const [, major, minor, patch, prerelease, variant] = m;
  return {
    major: Number(major),
    minor: Number(minor),
    ...(patch === undefined ? {} : { patch: Number(patch) }),
    ...(prerelease === undefined ? {} : { prerelease }),
    ...(variant === undefined ? {} : { variant }),
  };
}

/**
 * Formats a version. Minor numbers are two digits before OCaml 5 (`4.08`).
 * `separator` replaces `+` and `prereleaseSeparator` replaces `~` (tags use `-`).
 */
export function formatVersion(
  v: OcamlVersion,
  opts: { separator?: string; prereleaseSeparator?: string } = {},
): string {
  const minor = v.major >= 5 ? String(v.minor) : String(v.minor).padStart(2, "0");
  const patch = v.patch === undefined ? "" : `.${v.patch}`;
  const prerelease = v.prerelease === undefined ? "" : (opts.prereleaseSeparator ?? "~") + v.prerelease;
  const variant = v.variant === undefined ? "" : (opts.separator ?? "+") + v.variant;
  return `${v.major}.${minor}${patch}${prerelease}${variant}`;
}

const compareNumbers = (a: number, b: number): number => (a < b ? -1 : a > b ? 1 : 0);
const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Absent sorts before present (a version without patch precedes its `.0`). */
function compareOptional<T>(a: T | undefined, b: T | undefined, cmp: (x: T, y: T) => number): number {
  if (a === undefined) return b === undefined ? 0 : -1;
  if (b === undefined) return 1;
  return cmp(a, b);
}

/** A release sorts after all of its prereleases. */
function comparePrereleases(a: string | undefined, b: string | undefined): number {
  if (a === undefined) return b === undefined ? 0 : 1;
  if (b === undefined) return -1;
  return compareStrings(a, b);
}

/**
 * Total order: major, minor, patch, then prerelease (a prerelease sorts
 * before the release: `5.5.0~beta1` < `5.5.0`), then variant (none first).
 */
export function compareVersions(a: OcamlVersion, b: OcamlVersion): number {
  return (
    compareNumbers(a.major, b.major) ||
    compareNumbers(a.minor, b.minor) ||
    compareOptional(a.patch, b.patch, compareNumbers) ||
    comparePrereleases(a.prerelease, b.prerelease) ||
    compareOptional(a.variant, b.variant, compareStrings)
  );
}

export const sameVersion = (a: OcamlVersion, b: OcamlVersion): boolean => compareVersions(a, b) === 0;

/** A string that two versions share exactly when `sameVersion` holds: for sets and maps of versions. */
export const versionKey = (v: OcamlVersion): string => `${v.major}.${v.minor}.${v.patch ?? ""}~${v.prerelease ?? ""}+${v.variant ?? ""}`;

export function withoutVariant(v: OcamlVersion): OcamlVersion {
  const { variant: _variant, ...rest } = v;
  return rest;
}

export function withoutPatch(v: OcamlVersion): OcamlVersion {
  const { patch: _patch, ...rest } = v;
  return rest;
}

/** `4.14.3+flambda` → `4.14`; a prerelease stays (`5.5.0~beta1` → `5.5~beta1`). */
export const majorMinor = (v: OcamlVersion): OcamlVersion => withoutPatch(withoutVariant(v));

export function withVariant(v: OcamlVersion, variant: string | undefined): OcamlVersion {
  return variant === undefined ? withoutVariant(v) : { ...v, variant };
}
