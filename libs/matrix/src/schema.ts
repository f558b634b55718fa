/**
 * The shape of the files under images/, as zod schemas. JSON Schemas for
 * editors are generated from these (tools/schemas.ts), never written by hand.
 */
import { z } from "zod";
import { FAMILIES } from "../../distros/src";
import { ARCHES, OPTION_NAMES, parseRange, parseVersion } from "../../ocaml/src";

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
const tagName = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, { message: "not a valid tag name (lowercase letters, digits, . _ -)" });
const commit = z.string().regex(/^[0-9a-f]{40}$/, { message: "not a full 40-character git commit id" });
const arch = z.enum(ARCHES);

export const distroFileSchema = z
  .object({
    $schema: z.string().optional(),
    family: z.enum(FAMILIES).describe("The distribution family; decides the package manager and the OS."),
    version: z.string().min(1).describe("The family's version: 13, 24.04, tumbleweed, ltsc2022…"),
    title: z.string().min(1).describe("A human-readable name, e.g. Debian 13 (Trixie)."),
    status: z
      .enum(["active", "deprecated"])
      .default("active")
      .describe("Active distros are built and pushed; a deprecated one keeps its file for the record and is planned nowhere."),
    base: z
      .object({
        image: z.string().min(1).describe("The base image repository, e.g. debian or quay.io/centos/centos."),
        tag: z.string().min(1).describe("The base image tag, as written in the Dockerfile."),
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
    aliases: z.array(tagName).default([]).describe("Other names for this distro's images: debian, ubuntu-lts…"),
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
        wingetPackages: z.array(z.string().min(1)).default([]),
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
    releases: z.array(ocamlVersion).min(1).describe("Supported releases; the newest is `latest`."),
    dev: z.array(ocamlVersion).default([]).describe("Development series, built from trunk or a release branch."),
    betas: z.array(ocamlVersion).default([]).describe("Unreleased prereleases: alphas, betas, release candidates."),
    variants: z
      .array(
        z
          .object({
            options: z.array(z.enum(OPTION_NAMES)).min(1),
            when: z
              .array(
                z
                  .object({
                    series: versionRange.describe("Compiler series (MAJOR.MINOR compared) that have this variant."),
                    arches: z.array(arch).optional().describe("Only on these arches (default: all)."),
                  })
                  .strict(),
              )
              .min(1),
          })
          .strict(),
      )
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
            commit: commit.describe("The pinned commit of the branch."),
            publicName: tagName.optional().describe("The installed binary's name; default opam-<branch>."),
            aliases: z.array(tagName).default([]),
            zeroInstallSolver: z.boolean().default(true),
            vendoredDeps: z.boolean().default(true),
            windows: z.boolean().default(true).describe("Also built for Windows images."),
          })
          .strict(),
      )
      .min(1),
  })
  .strict()
  .superRefine((o, ctx) => {
    for (const field of ["bootstrap", "windowsDefault"] as const) {
      if (!o.builds.some((b) => b.branch === o[field])) {
        ctx.addIssue({ code: "custom", path: [field], message: `no build of branch "${o[field]}"` });
      }
    }
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
