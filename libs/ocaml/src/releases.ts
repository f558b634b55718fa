/**
 * The compiler releases the images are built for, and what opam calls them.
 * The facts themselves (which releases, which variants) are data in
 * `images/compilers.json`; this module answers questions about them.
 */
import type { Arch } from "./arch";
import { hasOptionsPackages, isMulticore, optionsOf, withOptions, type OptionName } from "./options";
import { inRange, type VersionRange } from "./range";
import { compareVersions, formatVersion, majorMinor, sameVersion, withoutVariant, type OcamlVersion } from "./version";

export interface VariantRule {
  readonly options: readonly OptionName[];
  /** The variant exists when any condition holds: a compiler series range, optionally limited to some arches. */
  readonly when: readonly { readonly series: VersionRange; readonly arches?: readonly Arch[] }[];
}

export interface Releases {
  /** Supported releases, the images everybody uses; the newest is "latest". */
  readonly releases: readonly OcamlVersion[];
  /** Development series, built from the compiler's trunk or release branches. */
  readonly dev: readonly OcamlVersion[];
  /** Prereleases (alphas, betas, release candidates) not yet released. */
  readonly betas: readonly OcamlVersion[];
  readonly variants: readonly VariantRule[];
}

export function latestRelease(releases: Releases): OcamlVersion {
  const newest = [...releases.releases].sort(compareVersions).at(-1);
  if (!newest) throw new Error("no compiler releases declared");
  return newest;
}

/** Whether a version belongs to a development series (variants and patch ignored). */
export function isDev(releases: Releases, v: OcamlVersion): boolean {
  const series = majorMinor(v);
  return releases.dev.some((d) => sameVersion(majorMinor(d), series));
}

export function isUnreleasedBeta(releases: Releases, v: OcamlVersion): boolean {
  const plain = withoutVariant(v);
  return releases.betas.some((b) => sameVersion(b, plain));
}

/** The compiler with each variant that exists for it on `arch`, the plain compiler first. */
export function compilerVariants(releases: Releases, arch: Arch, v: OcamlVersion): OcamlVersion[] {
  const variants = releases.variants
    .filter((rule) =>
      rule.when.some((w) => inRange(v, w.series, { bySeries: true }) && (!w.arches || w.arches.includes(arch))),
    )
    .map((rule) => withOptions(v, rule.options));
  return [withoutVariant(v), ...variants];
}

/** The opam package (name, version) that installs this compiler. */
export function opamPackage(releases: Releases, v: OcamlVersion): { name: string; version: string } {
  const dev = isDev(releases, v);
  if (v.variant !== undefined) {
    if (dev) {
      const trunk = `${formatVersion(withoutVariant(v))}+trunk`;
      return { name: "ocaml-variants", version: hasOptionsPackages(v) ? trunk : `${trunk}+${v.variant}` };
    }
    // Multicore forks were published at the lowest patch version; since 4.12 variants are `+options` plus option packages.
    const published = isMulticore(v) ? { ...v, patch: 0 } : hasOptionsPackages(v) ? { ...v, variant: "options" } : v;
    return { name: "ocaml-variants", version: formatVersion(published) };
  }
  if (dev) return { name: "ocaml-variants", version: `${formatVersion(v)}+trunk` };
  return { name: "ocaml-base-compiler", version: formatVersion(v) };
}

/** Extra packages that select the variant's options (`ocaml-options-only-flambda-fp`). */
export function additionalPackages(v: OcamlVersion): string[] {
  if (!hasOptionsPackages(v) || isMulticore(v)) return [];
  const options = optionsOf(v).sort();
  return options.length ? [`ocaml-options-only-${options.join("-")}`] : [];
}
