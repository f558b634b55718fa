/**
 * Compiler configuration options, the parts of a variant (`+flambda+fp`).
 */
import { compareVersions, parseVersion, withVariant, type OcamlVersion } from "./version";

export const OPTION_NAMES = [
  "afl",
  "default-unsafe-string",
  "domains",
  "effects",
  "flambda",
  "force-safe-string",
  "fp",
  "multicore",
  "no-effect-syntax",
  "nnp",
  "nnpchecker",
  "no-flat-float-array",
] as const;

export type OptionName = (typeof OPTION_NAMES)[number];

interface OptionFacts {
  readonly description: string;
  /**
   * The option's constructor name in ocaml-version. Before 4.12 variant names
   * were ordered by OCaml's structural order on these constructors (their
   * hash), so published legacy variant names depend on it.
   */
  readonly legacyConstructor: string;
}

export const OPTIONS: Readonly<Record<OptionName, OptionFacts>> = {
  afl: { description: "AFL (fuzzing) support", legacyConstructor: "Afl" },
  "default-unsafe-string": { description: "default to unsafe strings", legacyConstructor: "Default_unsafe_string" },
  domains: { description: "experimental multicore parallelism", legacyConstructor: "Domains" },
  effects: {
    description: "experimental multicore parallelism and effects-based concurrency",
    legacyConstructor: "Effects",
  },
  flambda: { description: "flambda inlining", legacyConstructor: "Flambda" },
  "force-safe-string": { description: "force safe string mode", legacyConstructor: "Force_safe_string" },
  fp: { description: "frame pointer", legacyConstructor: "Frame_pointer" },
  multicore: { description: "experimental multicore parallelism", legacyConstructor: "Multicore" },
  "no-effect-syntax": {
    description: "experimental multicore with syntax matching vanilla OCaml",
    legacyConstructor: "Multicore_no_effect_syntax",
  },
  nnp: { description: "forbid unboxed pointers", legacyConstructor: "No_naked_pointers" },
  nnpchecker: { description: "enable the naked pointers checker", legacyConstructor: "No_naked_pointers_checker" },
  "no-flat-float-array": { description: "disable float array unboxing", legacyConstructor: "Disable_flat_float_array" },
};

export function isOptionName(name: string): name is OptionName {
  return (OPTION_NAMES as readonly string[]).includes(name);
}

/** Since 4.12 each option is an opam package (`ocaml-option-*`) and variants are named in lexical order. */
const OPTIONS_PACKAGES_SINCE = parseVersion("4.12.0");

export const hasOptionsPackages = (v: OcamlVersion): boolean => compareVersions(v, OPTIONS_PACKAGES_SINCE) >= 0;

/** OCaml's hash of a polymorphic variant constructor: a 63-bit accumulation kept to a signed 31-bit number. */
function variantHash(constructor: string): number {
  let accu = 0n;
  for (const byte of Buffer.from(constructor, "utf8")) accu = BigInt.asIntN(63, 223n * accu + BigInt(byte));
  return Number(BigInt.asIntN(31, accu));
}

function compareOptions(version: OcamlVersion, a: OptionName, b: OptionName): number {
  if (hasOptionsPackages(version)) return a < b ? -1 : a > b ? 1 : 0;
  // Legacy order: fp and multicore first, then by constructor hash.
  const first = (o: OptionName) => o === "fp" || o === "multicore";
  if (first(a) || first(b)) return a === b ? 0 : first(a) ? -1 : 1;
  return variantHash(OPTIONS[a].legacyConstructor) - variantHash(OPTIONS[b].legacyConstructor);
}

/** The version with the given options as its variant (none: the plain compiler). */
export function withOptions(version: OcamlVersion, options: readonly OptionName[]): OcamlVersion {
  if (options.length === 0) return withVariant(version, undefined);
  const sorted = [...options].sort((a, b) => compareOptions(version, a, b));
  return withVariant(version, sorted.join("+"));
}

/** The options making up a version's variant; throws on a variant that is not made of known options. */
export function optionsOf(version: OcamlVersion): OptionName[] {
  if (version.variant === undefined) return [];
  return version.variant.split("+").map((name) => {
    if (!isOptionName(name)) throw new Error(`unknown variant option "${name}" in OCaml version`);
    return name;
  });
}

export const isMulticore = (v: OcamlVersion): boolean =>
  optionsOf(v).some((o) => o === "multicore" || o === "domains");
