/**
 * The generators' options, one zod schema each: the generators check what Nx
 * hands them with these, and their JSON Schemas (the `schema` files in
 * generators.json, which `nx g … --help` lists and Nx checks) are generated
 * from them by tools/schemas.ts.
 */
import { z } from "zod";

const distroName = (what: string) => z.string().min(1).describe(what);
const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, { message: "not a YYYY-MM-DD date" })
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), {
    message: "not a day of the calendar",
  });

export const distroGeneratorSchema = z
  .strictObject({
    name: distroName("The new distro's folder name under images/, e.g. fedora-45."),
    from: z
      .string()
      .min(1)
      .optional()
      .describe("The distro to copy, its closest sibling (e.g. fedora-44); default: the newest active distro named like the new one."),
    // Not `version`: `nx --version` is Nx's own. `nx g` reads 45 as a number (and 16.0 as 16): such versions are best left to the name.
    distroVersion: z
      .union([z.string().min(1), z.number().transform(String)])
      .optional()
      .describe("The family's version (image.json's `version`); default: what follows the sibling's name prefix in the new name (45)."),
    title: z.string().min(1).optional().describe("The human name; default: the sibling's, with its version replaced when it ends with it."),
    baseTag: z.string().min(1).optional().describe("The base image's tag; default: the sibling's, with its version replaced when it ends with it."),
    takeAliases: z
      .boolean()
      .optional()
      .describe("Move the sibling's aliases (and the default, if it is the default) to the new distro, which takes over the bare name."),
  })
  .describe("Adds a distro version to images/, copied from its closest sibling; regenerates images/builds.expected.");

export const deprecateDistroGeneratorSchema = z
  .strictObject({
    name: distroName("The distro to deprecate, e.g. fedora-42."),
    successor: z
      .string()
      .min(1)
      .optional()
      .describe("The distro its aliases (and the default) go to; default: the newest active distro named like it. Needed only when it has aliases or is the default."),
    date: isoDate.optional().describe("The day of the deprecation, YYYY-MM-DD (deprecatedOn); default: today (UTC)."),
  })
  .describe("Deprecates a distro: status, date, and its aliases handed over to its successor; regenerates images/builds.expected.");

export const compilerGeneratorSchema = z
  .strictObject({
    ocaml: z.string().min(1).describe("The OCaml release (5.4.2) or prerelease (5.5.0~beta2) to add to images/compilers.json."),
  })
  .describe(
    "Adds an OCaml release (replacing the older release of its series and its prereleases) or a prerelease (replacing older ones of the same version) to images/compilers.json.",
  );

/** Every generator's options, by generator name (as in generators.json), with its positional option. */
export const GENERATOR_OPTIONS = {
  distro: { schema: distroGeneratorSchema, positional: "name" },
  "deprecate-distro": { schema: deprecateDistroGeneratorSchema, positional: "name" },
  compiler: { schema: compilerGeneratorSchema, positional: "ocaml" },
} as const;

export type GeneratorName = keyof typeof GENERATOR_OPTIONS;
export type DistroGeneratorOptions = Readonly<z.infer<typeof distroGeneratorSchema>>;
export type DeprecateDistroGeneratorOptions = Readonly<z.infer<typeof deprecateDistroGeneratorSchema>>;
export type CompilerGeneratorOptions = Readonly<z.infer<typeof compilerGeneratorSchema>>;

/** A generator's options, checked: each problem on its own line naming the option, as `nx g` prints it. */
export function parseGeneratorOptions<N extends GeneratorName>(generator: N, raw: unknown): z.infer<(typeof GENERATOR_OPTIONS)[N]["schema"]> {
  const result = GENERATOR_OPTIONS[generator].schema.safeParse(raw ?? {}, { reportInput: true });
  if (result.success) return result.data as z.infer<(typeof GENERATOR_OPTIONS)[N]["schema"]>;
  const lines = result.error.issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") return issue.keys.map((key) => `unknown option "${key}"`);
    const got = issue.input === undefined ? "missing" : `got ${JSON.stringify(issue.input)}`;
    return [`option "${issue.path.map(String).join(".")}": ${issue.message} (${got})`];
  });
  throw new Error(lines.map((line) => `${generator}: ${line}`).join("\n"));
}

/** The JSON Schema files of the generators (paths as in generators.json), generated from the schemas above. */
export function renderGeneratorSchemas(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, { schema, positional }] of Object.entries(GENERATOR_OPTIONS)) {
    const { $schema, ...json } = z.toJSONSchema(schema, { io: "input", target: "draft-7" }) as { $schema: string; properties: Record<string, object> };
    // The positional option is the first word after the generator's name (`nx g …:distro fedora-45`).
    const properties = Object.fromEntries(
      Object.entries(json.properties).map(([key, value]) => [key, key === positional ? { ...value, $default: { $source: "argv", index: 0 } } : value]),
    );
    const nxSchema = { $schema, $id: name, cli: "nx", title: `${name} generator`, ...json, properties };
    files.set(`tools/nx-plugin/src/generators/${name}.schema.json`, JSON.stringify(nxSchema, null, 2) + "\n");
  }
  return files;
}
