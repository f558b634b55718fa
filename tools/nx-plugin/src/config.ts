/**
 * The plugin's options (nx.json `plugins[].options`), with environment
 * overrides applied where the work happens. Secrets are never options: only
 * the path of a password file is.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { repositoryProblem } from "../../../libs/docker/src/reference";
import { ARCHES } from "../../../libs/ocaml/src";
import { BUILDER_KEYS, buildersSchema, OSES } from "./builders";
import { NOW_ENV } from "./rebuild-period.js";

/** An image repository (no tag), as libs/docker/src/reference.ts defines one. */
const repository = z.string().superRefine((text, ctx) => {
  const problem = repositoryProblem(text);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: `${JSON.stringify(text)} is ${problem}` });
});

/** Where the images are made from, and what they are licensed under (OCaml's and opam's licence), unless configured. */
export const DEFAULT_SOURCE = "https://github.com/ocurrent/docker-base-images";
export const DEFAULT_LICENSES = "LGPL-2.1-only WITH OCaml-LGPL-linking-exception";

/**
 * Every environment variable the plugin and executors read, in one table (settings.ts reads
 * them). The first six override options when a task runs, and so are task inputs; `now`
 * stands in for the clock and reaches the builds' hash through the rebuild period; how a
 * run is paced and retried changes nothing it makes. Builders: builderEnv below.
 */
export const ENV = {
  stagingRepo: "OBI_STAGING_REPO",
  publicRepo: "OBI_PUBLIC_REPO",
  username: "OBI_REGISTRY_USER",
  passwordFile: "OBI_REGISTRY_PASSWORD_FILE",
  server: "OBI_REGISTRY_SERVER",
  dryRun: "OBI_DRY_RUN",
  now: NOW_ENV,
  /** The commit a manifest list names (its revision annotation), else git's HEAD; never a task input. */
  revision: "OBI_REVISION",
  parallel: "OBI_PARALLEL",
  retries: "OBI_REGISTRY_RETRIES",
  retrySeconds: "OBI_REGISTRY_RETRY_SECONDS",
  timeoutSeconds: "OBI_REGISTRY_TIMEOUT_SECONDS",
  commandIdleSeconds: "OBI_COMMAND_IDLE_SECONDS",
  commandTimeoutSeconds: "OBI_COMMAND_TIMEOUT_SECONDS",
  /** Nx's own: `--verbose` sets it; a dry run then prints each command whole. */
  verbose: "NX_VERBOSE_LOGGING",
} as const;

export const pluginOptionsSchema = z
  .object({
    stagingRepo: repository
      .default("localhost:5000/opam-staging")
      .describe(`The repository per-arch builds are pushed to, e.g. localhost:5000/opam-staging (${ENV.stagingRepo} overrides it).`),
    publicRepo: repository
      .default("localhost:5000/opam")
      .describe(`The repository multi-arch manifests are published to, e.g. localhost:5000/opam (${ENV.publicRepo} overrides it).`),
    /**
     * Where each arch's builds run, and Windows builds (`windows`): a buildx builder's name,
     * or `{ kind: "buildx" | "context", name }`, `{ kind: "ssh", host, keyFile, knownHostsFile }`,
     * `{ kind: "tls", host, caFile, certFile, keyFile }`, each with `slots`. An arch not named
     * uses the default builder; Windows builds need one named.
     */
    builders: buildersSchema.default({}),
    site: z
      .strictObject({
        os: z.array(z.enum(OSES)).min(1).default([...OSES]).describe("The OSes this site builds."),
        arches: z.array(z.enum(ARCHES)).min(1).default([...ARCHES]).describe("The arches this site builds."),
      })
      .default({ os: [...OSES], arches: [...ARCHES] })
      .describe("What this site builds (the plugin's `site` option); the plan leaves the rest out."),
    registry: z
      .strictObject({
        server: z.string().min(1).optional().describe(`The registry to log in to; default: the host of the staging repository (${ENV.server}).`),
        username: z.string().min(1).optional().describe(`The user to log in as (${ENV.username}).`),
        passwordFile: z.string().min(1).optional().describe(`A file holding the password; never the password itself (${ENV.passwordFile}).`),
      })
      .default({})
      .describe("How to log in to the registry; without it, docker's stored credentials are used."),
    dryRun: z.boolean().default(false).describe(`Print the docker commands instead of running them; nothing is built or pushed, and the records go to dist/dry-run/ (${ENV.dryRun}=1).`),
    builtinFrontend: z
      .boolean()
      .default(false)
      .describe("Build without the `# syntax=` line, with BuildKit's built-in frontend (for builders that cannot pull it, without Docker Hub)."),
    rebuildPeriodDays: z
      .number()
      .int()
      .min(0)
      .default(7)
      .describe("Every build is redone once per this many days even when nothing changed, for distro security updates (0: never on schedule)."),
    deprecationGraceDays: z
      .number()
      .int()
      .min(0)
      .default(90)
      .describe("Days after a distro's deprecation (its deprecatedOn) before every tag it had is pushed as the deprecation image (OBI_NOW stands in for the clock)."),
    pruneKeepPeriods: z
      .number()
      .int()
      .min(1)
      .default(4)
      .describe("prune-staging keeps what was built within this many rebuild periods, referenced or not."),
    imageMetadata: z
      .strictObject({
        source: z.url().default(DEFAULT_SOURCE).describe("Where the images are made from (org.opencontainers.image.source)."),
        licenses: z.string().min(1).default(DEFAULT_LICENSES).describe("An SPDX expression (org.opencontainers.image.licenses)."),
        vendor: z.string().min(1).optional().describe("Who publishes the images (org.opencontainers.image.vendor)."),
        url: z.url().optional().describe("Where to read about the images (org.opencontainers.image.url)."),
      })
      .default({ source: DEFAULT_SOURCE, licenses: DEFAULT_LICENSES })
      .describe("What every image and manifest list says of where it comes from (org.opencontainers.image.* labels and annotations); each image's title, description and OCaml version come from the plan."),
    attestations: z
      .strictObject({
        provenance: z.enum(["max", "min", "off"]).default("max").describe("BuildKit's provenance attestation mode (off: none)."),
        sbom: z.boolean().default(true).describe("Make an SBOM attestation."),
        sbomGenerator: z.string().min(1).optional().describe("The scanner image that makes the SBOM (BuildKit's default, docker/buildkit-syft-scanner, when unset)."),
      })
      .default({ provenance: "max", sbom: true })
      .describe("BuildKit's attestations, kept in the published lists. The classic (Windows) builder makes none, and says so once."),
  })
  .strict();

export type PluginOptions = z.output<typeof pluginOptionsSchema>;


/** The environment variable that overrides a builder: OBI_BUILDER_ARM64, OBI_BUILDER_WINDOWS. */
export const builderEnv = (key: (typeof BUILDER_KEYS)[number]): string => `OBI_BUILDER_${key.toUpperCase()}`;

export function parsePluginOptions(raw: unknown): PluginOptions {
  const result = pluginOptionsSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `nx.json: plugins[ocaml-base-images].options.${i.path.map(String).join(".")}: ${i.message}`);
  throw new Error(lines.join("\n"));
}

/** The rebuild period's one implementation, as a script node runs from the workspace root. */
const REBUILD_PERIOD_SCRIPT = "tools/nx-plugin/src/rebuild-period.js";

/** How nx.json names this plugin. */
export const PLUGIN_PATH = "./tools/nx-plugin/plugin.js";

/**
 * The plugin's options as the workspace at `root` declares them in nx.json (none: the
 * defaults), checked and with defaults applied: what the graph is made with, for commands
 * outside Nx (plan).
 */
export function workspacePluginOptions(root: string): PluginOptions {
  const file = join(root, "nx.json");
  let nxJson: { plugins?: (string | { plugin: string; options?: unknown })[] };
  try {
    nxJson = JSON.parse(readFileSync(file, "utf8")) as typeof nxJson;
  } catch (e) {
    // No nx.json (an images/ folder alone): the plugin's defaults.
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return parsePluginOptions(undefined);
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  const entry = nxJson.plugins?.find((p) => (typeof p === "string" ? p : p.plugin) === PLUGIN_PATH);
  return parsePluginOptions(typeof entry === "object" ? entry.options : undefined);
}

export const DEFAULT_REBUILD_PERIOD_DAYS = 7;
/**
 * The builds' rebuild period as Nx's `runtime` input: Nx runs it once per run and hashes its
 * output into every build task. It runs the function the build id is made with (rebuild-period.js).
 */
export function rebuildPeriodCommand(days: number): string {
  return `node ${REBUILD_PERIOD_SCRIPT} ${days}`;
}
