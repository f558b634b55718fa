/**
 * The shape of the files under images/, as zod schemas. JSON Schemas for
 * editors are generated from these (tools/cli/schemas.ts), never written by hand.
 */
import { z } from "zod";
import { FAMILIES } from "../../distros/src";
import { DOCKER_TAG, DOCKER_TAG_RULE, REPOSITORY_RULE, repositoryProblem } from "../../docker/src/reference";
import { ARCHES, OPTION_NAMES, parseRange, parseVersion } from "../../ocaml/src";

/**
 * The longest a list in an images/ file may be: far above what the matrix
 * needs, low enough that a slip (or a hostile file) cannot make the plan
 * explode (each alias, release or variant multiplies images or tags).
 */
export const LIST_LIMITS = {
  /** Each alias adds a public tag to every compiler image of its distro; today's most is 2. */
  aliases: 16,
  /** Each release is an image per distro; every OCaml release since 3.07 is about 70. */
  releases: 200,
  /** Development series and betas: a handful at any time. */
  prereleases: 20,
  /** Each variant is an image per tier-1 distro and release; today 7. */
  variants: 64,
  /** The conditions of one variant; today at most 2. */
  variantConditions: 16,
  /** opam branches built (each a binary in every opam image); today 6. */
  opamBuilds: 32,
  /** Other names of one opam binary; today at most 1. */
  opamAliases: 8,
  /** winget packages installed in a Windows image; today 1. */
  wingetPackages: 64,
} as const;

/**
 * Names that become part of tags and file names: distro folders, aliases, opam
 * binary names. Stricter than Docker's tag grammar (${DOCKER_TAG_RULE}):
 * lowercase only, as every published name is and so that no two names differ
 * by case alone (they are also Nx project and dist/ folder names); and at most
 * 40 characters, which leaves the longest suffix the plan adds (compiler,
 * variant and arch: about 50) well inside Docker's 128.
 */
export const NAME_MAX_LENGTH = 40;
const NAME_RULE = `lowercase letters, digits, . _ -, at most ${NAME_MAX_LENGTH} characters`;
const NAME_PATTERN = new RegExp(`^[a-z0-9][a-z0-9._-]{0,${NAME_MAX_LENGTH - 1}}$`);
export const isValidName = (text: string): boolean => NAME_PATTERN.test(text);
export const nameSchema = z.string().regex(NAME_PATTERN, { message: `not a valid name (${NAME_RULE})` });

const valid = (check: (s: string) => unknown) => (s: string) => {
  try {
    check(s);
    return true;
  } catch {
    return false;
  }
};

const ocamlVersion = z
  .string()
  .refine(valid(parseVersion), { message: "not an OCaml version (MAJOR.MINOR[.PATCH][~PRERELEASE][+VARIANT])" })
  .describe("An OCaml version, e.g. 5.4.1 or 5.5.0~beta1");
const versionRange = z
  .string()
  .refine(valid(parseRange), { message: 'not a version range (e.g. ">=4.13.0 <5.0.0 || >=5.3.0", or "" for all)' })
  .describe('OCaml versions, npm style: ">=4.05.0", ">4.11.0 <5.0.0 || >=5.3.0"; "" means all');
const commit = z.string().regex(/^[0-9a-f]{40}$/, { message: "not a full 40-character git commit id" });
const arch = z.enum(ARCHES);

/** A calendar day, `YYYY-MM-DD`, that exists (no 2026-02-30). */
export function isDay(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const t = Date.parse(`${text}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === text;
}

export const distroFileSchema = z
  .object({
    $schema: z.string().optional(),
    family: z.enum(FAMILIES).describe("The distribution family; decides the package manager and the OS."),
    version: z.string().min(1).describe("The family's version: 13, 24.04, tumbleweed, ltsc2022…"),
    title: z.string().min(1).describe("A human-readable name, e.g. Debian 13 (Trixie)."),
    status: z
      .enum(["active", "deprecated"])
      .default("active")
      .describe("Active distros are built and pushed; a deprecated one is built no more, and its tags are replaced by the deprecation image once the grace period after deprecatedOn is over."),
    deprecatedOn: z
      .string()
      .refine(isDay, { message: "not a day (YYYY-MM-DD)" })
      .optional()
      .describe("A deprecated distro only, and required there: the day it was deprecated (YYYY-MM-DD), e.g. an ocaml-dockerfile release date; `nx g deprecate-distro` records it."),
    base: z
      .object({
        image: z
          .string()
          .min(1)
          .refine((s) => repositoryProblem(s) === undefined, { message: `not an image repository (${REPOSITORY_RULE})` })
          .describe("The base image repository, e.g. debian or quay.io/centos/centos."),
        tag: z.string().regex(DOCKER_TAG, { message: `not a Docker tag (${DOCKER_TAG_RULE})` }).describe("The base image tag, as written in the Dockerfile."),
        digest: z
          .string()
          .regex(/^sha256:[0-9a-f]{64}$/, { message: "not a sha256 digest" })
          .optional()
          .describe("The pinned digest of the tag (a multi-arch index)."),
      })
      .strict(),
    arches: z
      .partialRecord(arch, versionRange)
      .refine((a) => Object.keys(a).length > 0, { message: "declare at least one arch" })
      .describe("Each arch the distro is built for, with the compilers built on it (a version range)."),
    tier: z.union([z.literal(1), z.literal(2), z.literal(3)]).describe("Tier 1 distros also get every compiler variant."),
    aliases: z.array(nameSchema).max(LIST_LIMITS.aliases).default([]).describe("Other names for this distro's images: debian, ubuntu-lts…"),
    default: z
      .boolean()
      .default(false)
      .describe("The one default distro: its latest compiler is also `latest`, and it makes the archive image."),
    prereleases: z.boolean().default(true).describe("Build development compilers and betas too."),
    bubblewrap: z
      .string()
      .regex(/^\d+(\.\d+)*$/, { message: "not a version number" })
      .optional()
      .describe("The distro's packaged bubblewrap version; older than 0.4.1 (or none) is built from source."),
    gcc: z
      .string()
      .regex(/^\d+\.\d+$/, { message: "not MAJOR.MINOR" })
      .optional()
      .describe("The distro's default gcc version (gcc 15+ needs patches for OCaml < 5.1)."),
    builtinOcaml: ocamlVersion
      .optional()
      .describe("The OCaml the distro packages itself, as upstream records it (builtin_ocaml_of_distro); no image uses it."),
    gnuCoreutils: z.boolean().default(false).describe("apt only: replace uutils coreutils with GNU coreutils."),
    rpm: z
      .object({
        groupCommand: z
          .enum(["groupinstall", "group install"])
          .describe("How yum installs a package group: `groupinstall` (dnf 3 syntax) or `group install` (dnf 5)."),
        devToolsGroup: z.string().min(1).describe('The C development package group, quoted: "Development Tools".'),
        extraRepo: z.string().min(1).optional().describe("A repository to enable, e.g. crb."),
        yumOverlayWorkaround: z.boolean().default(false),
      })
      .strict()
      .optional()
      .describe("Facts for rpm-based families (centos, fedora, oraclelinux)."),
    windows: z
      .object({
        port: z.enum(["mingw", "msvc"]),
        aslrOff: z.boolean().default(false),
        wingetPackages: z.array(z.string().min(1)).max(LIST_LIMITS.wingetPackages).default([]),
      })
      .strict()
      .optional()
      .describe("Facts for Windows families."),
  })
  // Which family needs which facts is checked where the distro is built (load.ts), as part of its type.
  .strict();

export const compilersFileSchema = z
  .object({
    $schema: z.string().optional(),
    releases: z.array(ocamlVersion).min(1).max(LIST_LIMITS.releases).describe("Supported releases; the newest is `latest`."),
    dev: z.array(ocamlVersion).max(LIST_LIMITS.prereleases).default([]).describe("Development series, built from trunk or a release branch."),
    betas: z.array(ocamlVersion).max(LIST_LIMITS.prereleases).default([]).describe("Unreleased prereleases: alphas, betas, release candidates."),
    variants: z
      .array(
        z
          .object({
            options: z.array(z.enum(OPTION_NAMES)).min(1).max(OPTION_NAMES.length),
            when: z
              .array(
                z
                  .object({
                    series: versionRange.describe("Compiler series (MAJOR.MINOR compared) that have this variant."),
                    arches: z.array(arch).max(ARCHES.length).optional().describe("Only on these arches (default: all)."),
                  })
                  .strict(),
              )
              .min(1)
              .max(LIST_LIMITS.variantConditions),
          })
          .strict(),
      )
      .max(LIST_LIMITS.variants)
      .default([])
      .describe("Compiler variants built for tier-1 distros."),
  })
  .strict();

export const opamFileSchema = z
  .object({
    $schema: z.string().optional(),
    url: z.string().url().describe("Where opam's sources are cloned from."),
    bootstrap: z.string().describe("The branch whose commit bootstraps the compiler all builds share."),
    windowsDefault: z.string().describe("The branch whose binary is `opam` on Windows."),
    builds: z
      .array(
        z
          .object({
            branch: z.string().min(1),
            commit: commit.describe("The pinned commit: the branch's head, or its newest release's (see follows)."),
            follows: z
              .enum(["branch", "releases"])
              .default("branch")
              .describe("What update-pins moves the pin to: the branch's head (a development series), or the newest release tag of the series (MAJOR.MINOR.PATCH)."),
            release: z
              .string()
              .regex(/^\d+\.\d+\.\d+$/, { message: "not a release tag (MAJOR.MINOR.PATCH)" })
              .optional()
              .describe("The release tag the commit is, when following releases; written by update-pins."),
            publicName: nameSchema.optional().describe("The installed binary's name; default opam-<branch>."),
            aliases: z.array(nameSchema).max(LIST_LIMITS.opamAliases).default([]),
            zeroInstallSolver: z.boolean().default(true),
            vendoredDeps: z.boolean().default(true),
            windows: z.boolean().default(true).describe("Also built for Windows images."),
          })
          .strict(),
      )
      .min(1)
      .max(LIST_LIMITS.opamBuilds),
  })
  .strict()
  .superRefine((o, ctx) => {
    for (const field of ["bootstrap", "windowsDefault"] as const) {
      if (!o.builds.some((b) => b.branch === o[field])) {
        ctx.addIssue({ code: "custom", path: [field], message: `no build of branch "${o[field]}"` });
      }
    }
    // Every binary name (publicName, by default opam-<branch>, and aliases) is a file in the same folder of every opam image.
    const owner = new Map<string, string>();
    o.builds.forEach((b, i) => {
      if (b.publicName === undefined && !isValidName(`opam-${b.branch}`)) {
        ctx.addIssue({
          code: "custom",
          path: ["builds", i, "branch"],
          input: b.branch,
          message: `not a branch that makes a valid binary name opam-<branch> (${NAME_RULE})`,
        });
      }
      const names: [string, PropertyKey[]][] = [
        [b.publicName ?? `opam-${b.branch}`, b.publicName === undefined ? ["branch"] : ["publicName"]],
        ...b.aliases.map((alias, j): [string, PropertyKey[]] => [alias, ["aliases", j]]),
      ];
      for (const [name, path] of names) {
        const other = owner.get(name);
        if (other !== undefined) {
          ctx.addIssue({ code: "custom", path: ["builds", i, ...path], message: `binary name "${name}" is already taken by the build of branch "${other}"` });
        }
        owner.set(name, b.branch);
      }
    });
  });

export const opamRepositoryFileSchema = z
  .object({
    $schema: z.string().optional(),
    url: z.string().url(),
    branch: z.string().min(1),
    commit: commit.describe("The pinned commit: the build context of every opam image."),
  })
  .strict();

const followedRelease = z
  .object({
    url: z.string().url().describe("The upstream repository."),
    release: z.string().min(1).describe("The release (tag) followed."),
    commit: commit.describe("The commit of that release."),
    date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { message: "not a YYYY-MM-DD date" }),
    covers: z.string().min(1).describe("What in this repository follows it."),
  })
  .strict();

export const upstreamFileSchema = z
  .object({
    $schema: z.string().optional(),
    "ocaml-dockerfile": followedRelease.describe("The Dockerfile recipes and the distro facts."),
    "ocaml-version": followedRelease.describe("The compiler releases and variants."),
  })
  .strict()
  .describe("Which upstream releases images/ and the recipes follow: what to diff against when upstream moves.");

export type DistroFile = z.output<typeof distroFileSchema>;
export type CompilersFile = z.output<typeof compilersFileSchema>;
export type OpamFile = z.output<typeof opamFileSchema>;
export type OpamRepositoryFile = z.output<typeof opamRepositoryFileSchema>;
export type UpstreamFile = z.output<typeof upstreamFileSchema>;

/** Each schema and the file (or files) under images/ it describes. */
export const SCHEMAS = {
  image: distroFileSchema,
  compilers: compilersFileSchema,
  opam: opamFileSchema,
  "opam-repository": opamRepositoryFileSchema,
  upstream: upstreamFileSchema,
} as const;
