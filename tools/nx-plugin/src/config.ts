/**
 * The plugin's options (nx.json `plugins[].options`), with environment
 * overrides applied where the work happens. Secrets are never options: only
 * the path of a password file is.
 */
import { z } from "zod";
import { repositoryProblem } from "../../../libs/docker/src/reference";
import { ARCHES } from "../../../libs/ocaml/src";
import { BUILDER_KEYS, buildersSchema, OSES } from "./builders";

/** An image repository (no tag), as libs/docker/src/reference.ts defines one. */
const repository = z.string().superRefine((text, ctx) => {
  const problem = repositoryProblem(text);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is ${problem}` });
});

/** Where the images are made from, and what they are licensed under (OCaml's and opam's licence), unless configured. */
export const DEFAULT_SOURCE = "https://github.com/ocurrent/docker-base-images";
export const DEFAULT_LICENSES = "LGPL-2.1-only WITH OCaml-LGPL-linking-exception";

export const pluginOptionsSchema = z
  .object({
    /** Where per-arch builds are pushed. */
    stagingRepo: repository.default("localhost:5000/opam-staging"),
    /** Where multi-arch manifests are published. */
    publicRepo: repository.default("localhost:5000/opam"),
    /**
     * Where each arch's builds run, and Windows builds (`windows`): a buildx builder's name,
     * or `{ kind: "buildx" | "context", name }`, `{ kind: "ssh", host, keyFile, knownHostsFile }`,
     * `{ kind: "tls", host, caFile, certFile, keyFile }`, each with `slots`. An arch not named
     * uses the default builder; Windows builds need one named.
     */
    builders: buildersSchema.default({}),
    /** What this site builds: the OSes and arches (default: everything). The rest is left out of the plan. */
    site: z
      .strictObject({
        os: z.array(z.enum(OSES)).min(1).default([...OSES]),
        arches: z.array(z.enum(ARCHES)).min(1).default([...ARCHES]),
      })
      .default({ os: [...OSES], arches: [...ARCHES] }),
    registry: z
      .object({
        /** The registry to log in to; default: the host part of the staging repository. */
        server: z.string().min(1).optional(),
        username: z.string().min(1).optional(),
        /** A file holding the password (like upstream's /run/secrets/ocurrent-hub). */
        passwordFile: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    /** Print the docker commands instead of running them. */
    dryRun: z.boolean().default(false),
    /**
     * Build without the Dockerfiles' `# syntax=docker/dockerfile:1` line, using BuildKit's
     * built-in frontend: for builders that cannot pull the frontend image (no Docker Hub).
     */
    builtinFrontend: z.boolean().default(false),
    /**
     * Rebuild every image once per this many days even when nothing changed, to pick
     * up distro security updates (upstream rebuilds weekly). 0 turns it off.
     */
    rebuildPeriodDays: z.number().int().min(0).default(7),
    /**
     * What every image and manifest list says of where it comes from (`org.opencontainers.image.*`
     * labels and annotations); each image's title, description and OCaml version come from the plan.
     */
    imageMetadata: z
      .strictObject({
        source: z.url().default(DEFAULT_SOURCE),
        /** An SPDX expression. */
        licenses: z.string().min(1).default(DEFAULT_LICENSES),
        vendor: z.string().min(1).optional(),
        url: z.url().optional(),
      })
      .default({ source: DEFAULT_SOURCE, licenses: DEFAULT_LICENSES }),
    /**
     * BuildKit's attestations, kept in the published lists: provenance (`max`, `min` or `off`)
     * and an SBOM made by a scanner image (`sbomGenerator`; BuildKit's default,
     * docker/buildkit-syft-scanner, when unset). The classic (Windows) builder makes none.
     */
    attestations: z
      .strictObject({
        provenance: z.enum(["max", "min", "off"]).default("max"),
        sbom: z.boolean().default(true),
        sbomGenerator: z.string().min(1).optional(),
      })
      .default({ provenance: "max", sbom: true }),
  })
  .strict();

export type PluginOptions = z.output<typeof pluginOptionsSchema>;

/** Environment variables that override the options when a task runs (and so are task inputs). */
export const ENV = {
  stagingRepo: "OBI_STAGING_REPO",
  publicRepo: "OBI_PUBLIC_REPO",
  username: "OBI_REGISTRY_USER",
  passwordFile: "OBI_REGISTRY_PASSWORD_FILE",
  server: "OBI_REGISTRY_SERVER",
  dryRun: "OBI_DRY_RUN",
} as const;

/** Where the targets write, per image: `<this>/<image>/render/`, `build-<arch>.json`, `publish.json`. */
export const OUTPUT_DIR = "dist/images";

/** A build's record (what was built: tag, digest, build id), which the builds FROM it and the publish read. */
export const buildRecordFile = (arch: string): string => `build-${arch}.json`;

/** The environment variable that overrides a builder: OBI_BUILDER_ARM64, OBI_BUILDER_WINDOWS. */
export const builderEnv = (key: (typeof BUILDER_KEYS)[number]): string => `OBI_BUILDER_${key.toUpperCase()}`;

export function parsePluginOptions(raw: unknown): PluginOptions {
  const result = pluginOptionsSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `nx.json: plugins[ocaml-base-images].options.${i.path.map(String).join(".")}: ${i.message}`);
  throw new Error(lines.join("\n"));
}

export const DEFAULT_REBUILD_PERIOD_DAYS = 7;
const DAY_MS = 86_400_000;

/**
 * The same computation as a shell command, for Nx's `runtime` input: Nx runs it
 * once per run and hashes its output into every build task.
 */
export function rebuildPeriodCommand(days: number): string {
  if (days <= 0) return "echo none";
  return `node -e "const n=process.env.OBI_NOW?Date.parse(process.env.OBI_NOW):Date.now();console.log('${days}d#'+Math.floor(n/(${days}*${DAY_MS})))"`;
}
