/**
 * How a problem in an images/ file reads: the field, the bad value quoted, and
 * what would be valid (with a "did you mean" for a likely slip). One line each.
 */
import type { z } from "zod";
import { FAMILIES } from "../../distros/src";
import { ARCHES, OPTION_NAMES } from "../../ocaml/src";
import { closest } from "./suggest";
import { escapeText } from "./text";

/** What a value of a known closed set is called in a message. */
const NOUNS: readonly (readonly [readonly string[], string])[] = [
  [ARCHES, "an arch"],
  [FAMILIES, "a family"],
  [OPTION_NAMES, "a compiler option"],
];

function nounFor(values: readonly unknown[]): string | undefined {
  const key = values.map(String).join(",");
  return NOUNS.find(([set]) => set.join(",") === key)?.[1];
}

/** `"alpnie"`, `5`, `true`; a list or an object by its kind, not its contents. */
function quote(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value !== null && typeof value === "object") return "an object";
  return escapeText(JSON.stringify(value) ?? String(value));
}

const isPrimitive = (value: unknown): boolean => value === null || (typeof value !== "object" && value !== undefined);

/** "did you mean" when one known word is near; else the known words. */
function whatIsValid(bad: string, known: readonly unknown[]): string {
  const guess = closest(bad, known.map(String));
  return guess !== undefined ? `did you mean ${JSON.stringify(guess)}?` : `known: ${known.map(String).join(", ")}`;
}

/** Longest field path shown whole: a path half a million lists deep stays one readable line. */
const MAX_PATH_CHARS = 120;

export function fieldPath(path: readonly PropertyKey[]): string {
  if (!path.length) return "(top level)";
  const whole = escapeText(path.map(String).join("."));
  return whole.length <= MAX_PATH_CHARS ? whole : `${whole.slice(0, MAX_PATH_CHARS / 2)}…(${path.length} deep)…${whole.slice(-MAX_PATH_CHARS / 2)}`;
}

/** The minimum of zod's internals this needs to find the schema of a field. */
interface Def {
  readonly type: string;
  readonly shape?: Record<string, z.core.$ZodType>;
  readonly innerType?: z.core.$ZodType;
  readonly in?: z.core.$ZodType;
  readonly element?: z.core.$ZodType;
  readonly keyType?: z.core.$ZodType;
  readonly valueType?: z.core.$ZodType;
  readonly entries?: Record<string, string | number>;
}
const defOf = (schema: z.core.$ZodType): Def => schema._zod.def as unknown as Def;

/** The schema under wrappers (optional, default, pipe…). */
function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  const def = defOf(schema);
  const inner = def.innerType ?? (def.type === "pipe" ? def.in : undefined);
  return inner ? unwrap(inner) : schema;
}

/** The schema of the field at `path`, if the path goes through objects, records and arrays only. */
function schemaAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): z.core.$ZodType | undefined {
  let here: z.core.$ZodType | undefined = unwrap(schema);
  for (const key of path) {
    if (!here) return undefined;
    const def = defOf(here);
    const next: z.core.$ZodType | undefined =
      def.type === "object" ? def.shape?.[String(key)] : def.type === "record" ? def.valueType : def.type === "array" ? def.element : undefined;
    here = next ? unwrap(next) : undefined;
  }
  return here;
}

/** The keys an object or record at `path` accepts, and what one is called. */
function knownKeys(root: z.core.$ZodType, path: readonly PropertyKey[]): { known: string[]; noun: string } | undefined {
  const schema = schemaAt(root, path);
  if (!schema) return undefined;
  const def = defOf(schema);
  if (def.type === "object") return { known: Object.keys(def.shape ?? {}).filter((k) => k !== "$schema"), noun: "field" };
  if (def.type === "record" && def.keyType) {
    const keys = defOf(unwrap(def.keyType)).entries;
    if (!keys) return undefined;
    const known = Object.values(keys).map(String);
    return { known, noun: nounFor(known)?.replace(/^an? /, "") ?? "key" };
  }
  return undefined;
}

/** The values of a union of literals (`tier: 1 | 2 | 3`), if that is what the issue is about. */
function literalChoices(issue: z.core.$ZodIssue): unknown[] | undefined {
  if (issue.code !== "invalid_union" || issue.errors.length === 0) return undefined;
  const values: unknown[] = [];
  for (const branch of issue.errors) {
    const only = branch.length === 1 ? branch[0] : undefined;
    if (only?.code !== "invalid_value") return undefined;
    values.push(...only.values);
  }
  return values;
}

/**
 * One issue of a file, as `field: what is wrong`: the bad value quoted and what
 * would be valid. `schema` is the file's schema (to list the fields it knows).
 * Needs the issue's input (parse with `reportInput: true`).
 */
export function describeIssue(issue: z.core.$ZodIssue, schema: z.core.$ZodType): string[] {
  const at = fieldPath(issue.path);
  const input = issue.input;
  if (issue.code === "unrecognized_keys") {
    const keys = knownKeys(schema, issue.path);
    return issue.keys.map((key) =>
      keys ? `${at}: unknown ${keys.noun} ${JSON.stringify(key)}; ${whatIsValid(key, keys.known)}` : `${at}: unknown field ${JSON.stringify(key)}`,
    );
  }
  if (issue.code === "invalid_value") {
    const noun = nounFor(issue.values);
    const valid = noun ? whatIsValid(String(input), issue.values) : `one of: ${issue.values.map(quote).join(", ")}`;
    return [noun ? `${at}: ${quote(input)} is not ${noun}; ${valid}` : `${at}: ${quote(input)} is not ${valid}`];
  }
  const choices = literalChoices(issue);
  if (choices) return [`${at}: ${quote(input)} is not one of: ${choices.map(quote).join(", ")}`];
  if (issue.code === "too_big" && Array.isArray(input)) return [`${at}: ${input.length} items, more than the ${String(issue.maximum)} allowed`];
  if (issue.code === "invalid_type") {
    return [input === undefined ? `${at}: required, but missing` : `${at}: expected ${issue.expected}, got ${quote(input)}`];
  }
  // The schemas' own messages read "not a …": say what is not.
  if (isPrimitive(input) && issue.message.startsWith("not ")) return [`${at}: ${quote(input)} is ${issue.message}`];
  return [isPrimitive(input) ? `${at}: ${issue.message} (got ${quote(input)})` : `${at}: ${issue.message}`];
}

/** A JSON syntax error as `file:line:column: not valid JSON: …`, from the parser's position. */
export function describeJsonError(file: string, text: string, error: Error): string {
  const position = /at position (\d+)/.exec(error.message)?.[1];
  const offset = position === undefined ? text.length : Number(position);
  const before = text.slice(0, offset).split("\n");
  const line = before.length;
  const column = (before.at(-1)?.length ?? 0) + 1;
  const reason = error.message.replace(/ in JSON at position \d+.*$/, "").replace(/^Unexpected end of JSON input$/, "unexpected end of the file");
  return `${file}:${line}:${column}: not valid JSON: ${escapeText(reason)}`;
}
