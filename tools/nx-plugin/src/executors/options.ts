/**
 * The executors' options, one zod schema each: the executors validate what Nx
 * hands them with these, and their JSON Schemas (the `schema` files in
 * executors.json, which `nx run … --help` lists and Nx checks) are generated
 * from them by tools/cli/schemas.ts.
 */
import { z } from "zod";
import { ARCHES } from "../../../../libs/ocaml/src";
import { builderSchema } from "../builders";
import { pluginOptionsSchema } from "../config";

// The options an executor shares with the plugin are the plugin's own (config.ts), picked:
// one declaration of each, its check, default and description.
const image = z.string().min(1).describe("The image (project) name, e.g. debian-13-ocaml-5.4.");
const arch = z.enum(ARCHES);
const about = z
  .strictObject({
    title: z.string().min(1).describe("The image's title (its name)."),
    description: z.string().min(1).describe("What the image is."),
    version: z.string().min(1).optional().describe("The OCaml version, for images with one compiler."),
  })
  .describe("What the image says of itself (org.opencontainers.image.title, description, version), from the plan.");
const buildRef = z.strictObject({ image, arch: arch.describe("The arch of that image's build.") });
/**
 * The plugin's dryRun without its default: a task's options say `dryRun` only when it is a
 * dry run (its records go elsewhere), so an absent value means real, and `--dryRun=false` is refused.
 */
const dryRun = pluginOptionsSchema.shape.dryRun.unwrap().optional().describe(pluginOptionsSchema.shape.dryRun.description ?? "");

export const renderOptionsSchema = pluginOptionsSchema
  .pick({ stagingRepo: true, publicRepo: true, site: true, deprecationGraceDays: true })
  .extend({ image })
  .strict()
  .describe("Writes an image's Dockerfile per arch and its build-context description under dist/images/<image>/render/.");

export const buildOptionsSchema = pluginOptionsSchema
  .pick({ stagingRepo: true, registry: true, builtinFrontend: true, rebuildPeriodDays: true, imageMetadata: true, attestations: true })
  .extend({
    dryRun,
    image,
    arch: arch.describe("The arch built."),
    os: z.enum(["linux", "windows"]).describe("The OS of the image; with the arch, the build's platform."),
    tag: z.string().min(1).describe("The staging tag's name part, e.g. debian-13-opam-amd64."),
    parent: buildRef.optional().describe("The build this image starts FROM (same arch), if any."),
    builder: builderSchema
      .optional()
      .describe(
        "Where it builds: a buildx builder's name, or { kind: buildx|context, name } | { kind: ssh, host, keyFile, knownHostsFile } | { kind: tls, host, caFile, certFile, keyFile }, each with slots (OBI_BUILDER_<ARCH> or OBI_BUILDER_WINDOWS overrides it, as a name or the same JSON).",
      ),
    about: about.optional(),
  })
  .strict()
  .describe("Builds one image for one arch with docker buildx and pushes it to the staging repository, unless a build with its id is there already.");

export const publishOptionsSchema = pluginOptionsSchema
  .pick({ stagingRepo: true, publicRepo: true, registry: true, imageMetadata: true })
  .extend({ image, dryRun, about: about.optional() })
  .strict()
  .describe(
    "Joins an image's staging builds into its public manifest lists, by digest, as its render's manifests.json lists them; a tag already listing them is left alone.",
  );

export const updatePinsOptionsSchema = pluginOptionsSchema
  .pick({ stagingRepo: true, registry: true })
  .extend({ check: z.boolean().optional().describe("Only report the pins that would move; fail if any would.") })
  .strict()
  .describe("Moves the pins in images/ to the current upstream heads and digests.");

export const statusOptionsSchema = pluginOptionsSchema
  .pick({ stagingRepo: true, publicRepo: true, site: true, rebuildPeriodDays: true, builtinFrontend: true, deprecationGraceDays: true, imageMetadata: true })
  .extend({
    serve: z.boolean().optional().describe("Serve the page and status.json (live) instead of writing dist/status/."),
    host: z.string().min(1).optional().describe("The address to serve on; loopback (127.0.0.1) unless told otherwise."),
    port: z.number().int().min(0).max(65535).optional().describe("The port to serve on (8080; 0: any free port)."),
    allowedHosts: z
      .preprocess((v) => (typeof v === "string" ? [v] : v), z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, "a host name, without port")).min(1))
      .optional()
      .describe("Host names requests may name besides loopback ones (a deployment's own, e.g. status or base-images.example.org); with it, every other Host is refused, wherever the server listens."),
    outputDir: z.string().min(1).optional().describe("Where index.html and status.json are written (dist/status)."),
    pollMs: z.number().int().min(100).optional().describe("How often the served page asks for status.json, in milliseconds (1000)."),
  })
  .strict()
  .describe("Writes dist/status/ (index.html, status.json): the state of every build and publish; --serve serves it live on loopback.");

export const pruneStagingOptionsSchema = pluginOptionsSchema
  .pick({ stagingRepo: true, publicRepo: true, registry: true, site: true, rebuildPeriodDays: true, deprecationGraceDays: true })
  .extend({
    keepPeriods: pluginOptionsSchema.shape.pruneKeepPeriods.optional(),
    confirm: z.boolean().optional().describe("Delete; without it, only say what would be deleted and the bytes it would free."),
  })
  .strict()
  .describe("Deletes staging manifests no current public list or build record names, built more than keepPeriods rebuild periods ago; a dry run unless --confirm.");

export const describeOptionsSchema = pluginOptionsSchema
  .pick({ stagingRepo: true, publicRepo: true, site: true, deprecationGraceDays: true })
  .extend({ output: z.string().min(1).optional().describe("Where to write the markdown, relative to the workspace (docs/tags.md).") })
  .strict()
  .describe("Writes the repository description (markdown) from the plan: every public tag by distro and compiler, aliases, arches, deprecated tags.");

/** Every executor's options, by executor name (as in executors.json). */
export const EXECUTOR_OPTIONS = {
  render: renderOptionsSchema,
  build: buildOptionsSchema,
  publish: publishOptionsSchema,
  "update-pins": updatePinsOptionsSchema,
  status: statusOptionsSchema,
  "prune-staging": pruneStagingOptionsSchema,
  describe: describeOptionsSchema,
} as const;

export type ExecutorName = keyof typeof EXECUTOR_OPTIONS;
export type RenderOptions = Readonly<z.infer<typeof renderOptionsSchema>>;
export type BuildOptions = Readonly<z.infer<typeof buildOptionsSchema>>;
export type PublishOptions = Readonly<z.infer<typeof publishOptionsSchema>>;
export type UpdatePinsOptions = Readonly<z.infer<typeof updatePinsOptionsSchema>>;
export type StatusOptions = Readonly<z.infer<typeof statusOptionsSchema>>;
export type DescribeOptions = Readonly<z.infer<typeof describeOptionsSchema>>;
export type PruneStagingOptions = Readonly<z.infer<typeof pruneStagingOptionsSchema>>;

function describeIssue(issue: z.core.$ZodIssue): string[] {
  const at = issue.path.map(String).join(".");
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => `unknown option "${at ? `${at}.` : ""}${key}"`);
  }
  const got = issue.input === undefined ? "missing" : `got ${JSON.stringify(issue.input)}`;
  return [`option "${at}": ${issue.message} (${got})`];
}

/**
 * The executor's options, checked: every problem on its own line, each naming
 * the executor and the option, e.g. `build: unknown option "foo"`.
 */
export function parseOptions<N extends ExecutorName>(executor: N, raw: unknown): z.infer<(typeof EXECUTOR_OPTIONS)[N]> {
  // Nx passes words after the target as `_`; no executor takes any.
  const { _: positional = [], ...options } = (raw ?? {}) as { _?: unknown[] };
  const problems = positional.map((word) => `unexpected argument ${JSON.stringify(word)}; options are given as --name=value`);
  const result = EXECUTOR_OPTIONS[executor].safeParse(options, { reportInput: true });
  if (!result.success) problems.push(...result.error.issues.flatMap(describeIssue));
  if (problems.length > 0) throw new OptionsError(problems.map((line) => `${executor}: ${line}`).join("\n"));
  return result.data as z.infer<(typeof EXECUTOR_OPTIONS)[N]>;
}

/** Options a task was given that its executor refuses: said as they are, before the task does anything. */
export class OptionsError extends Error {
  override readonly name = "OptionsError";
}

/** How a task reports a failure: an options problem as it is, anything else as `<what> failed: <why>`. */
export const failureLine = (label: string, what: string, e: unknown): string =>
  e instanceof OptionsError ? e.message.split("\n").map((line) => `${label}: ${line}`).join("\n") : `${label}: ${what} failed: ${(e as Error).message}`;

/**
 * Keywords Nx would enforce before an executor runs, left to the executor's zod check, whose
 * line names the task and the option (`build: unknown option "foo"`). Types and enum choices
 * stay: `--help` shows them, and Nx refuses a value of the wrong type in one line of its own,
 * in a batch too once tools/nx-plugin/patch-nx.js has fixed its batch worker (README: "Typed
 * options and Nx's batch worker"); Nx also turns `--dryRun=true` into a boolean through them.
 */
const ENFORCED_BY_NX = ["additionalProperties", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern"];

type JsonSchema = { [key: string]: unknown };

/** A zod JSON Schema as Nx should read it: the checks above left to zod. */
function forNx(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (ENFORCED_BY_NX.includes(key)) continue;
    if (key === "properties") {
      out[key] = Object.fromEntries(Object.entries(value as Record<string, JsonSchema>).map(([name, prop]) => [name, forNx(prop)]));
    } else if (key === "items") {
      out[key] = forNx(value as JsonSchema);
    } else if (key === "anyOf" || key === "oneOf" || key === "allOf") {
      out[key] = (value as JsonSchema[]).map(forNx);
    } else {
      out[key] = value;
    }
  }
  // A union says its members' types too (a builder: [string,object]), which is all `--help` shows of it.
  const types = out.type === undefined ? unionTypes(out) : undefined;
  if (types) out.type = types.length === 1 ? types[0] : types;
  return out;
}

/** The types a union's members can have, or undefined when one of them does not say. */
function unionTypes(schema: JsonSchema): string[] | undefined {
  const members = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (!members) return undefined;
  const types = new Set<string>();
  for (const member of members) {
    const own = member.type ?? unionTypes(member);
    if (own === undefined) return undefined;
    for (const type of [own].flat() as string[]) types.add(type);
  }
  return [...types];
}

/** The JSON Schema files of the executors (paths as in executors.json), generated from the schemas above. */
export function renderExecutorSchemas(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, schema] of Object.entries(EXECUTOR_OPTIONS)) {
    const { $schema, ...json } = z.toJSONSchema(schema, { io: "input", target: "draft-7" });
    // Nx reads `version: 2` schemas (its own executors' format); the title names the executor in editors.
    const nxSchema = { $schema, version: 2, title: `${name} options`, ...forNx(json) };
    files.set(`tools/nx-plugin/src/executors/${name}.schema.json`, JSON.stringify(nxSchema, null, 2) + "\n");
  }
  return files;
}
