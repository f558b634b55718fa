/**
 * What every command-line entry point shares: `--help`, one-line refusals of
 * an unknown flag or a bad value (exit 2), and a quiet exit when the reader of
 * stdout goes away (`npm run -s plan | head`).
 */
import { parseArgs } from "node:util";
import { closest } from "../../libs/matrix/src";

export type OptionSpec =
  | { readonly kind: "flag"; readonly description: string }
  | {
      readonly kind: "string";
      readonly description: string;
      /** The placeholder in the help: `--format=<format>`. */
      readonly value: string;
      readonly default?: string;
      readonly choices?: readonly string[];
      /** Why a value is refused (`not an image repository (…)`), or undefined when it is fine. */
      readonly check?: (value: string) => string | undefined;
    }
  | { readonly kind: "count"; readonly description: string; readonly value: string; readonly default: number };

export interface CliSpec {
  /** How the command is called in messages: `plan`, `bench:nx`. */
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
}

type ValueOf<S extends OptionSpec> = S extends { kind: "flag" }
  ? boolean
  : S extends { kind: "count" }
    ? number
    : S extends { choices: readonly (infer C)[] }
      ? S extends { default: string }
        ? C
        : C | undefined
      : S extends { default: string }
        ? string
        : string | undefined;

export type CliValues<O extends CliSpec["options"]> = { -readonly [K in keyof O]: ValueOf<O[K]> };

export type CommandLine<O extends CliSpec["options"]> =
  | { readonly kind: "run"; readonly values: CliValues<O> }
  | { readonly kind: "help"; readonly text: string }
  | { readonly kind: "error"; readonly message: string };

/** The help text: usage, summary, and every option with its description and default. */
export function helpText(spec: CliSpec): string {
  const rows: [string, string][] = Object.entries(spec.options).map(([name, option]) => {
    const flag = option.kind === "flag" ? `--${name}` : `--${name}=<${option.value}>`;
    const extra =
      option.kind === "flag"
        ? ""
        : [option.kind === "string" && option.choices ? `one of: ${option.choices.join(", ")}` : "", option.default !== undefined ? `default: ${option.default}` : ""]
            .filter(Boolean)
            .join("; ");
    return [flag, extra ? `${option.description} (${extra})` : option.description];
  });
  rows.push(["--help", "print this help"]);
  const width = Math.max(...rows.map(([flag]) => flag.length));
  const lines = rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`);
  return `${spec.summary}\n\nusage: ${spec.usage}\n\noptions:\n${lines.join("\n")}\n`;
}

/** Reads the arguments against the spec; nothing is printed and nothing exits here. */
export function parseCommandLine<O extends CliSpec["options"]>(spec: CliSpec & { options: O }, argv: readonly string[]): CommandLine<O> {
  const fail = (message: string): CommandLine<O> => ({ kind: "error", message: `${spec.name}: ${message} (see --help)` });
  // Declared to parseArgs so `--format json` reads as `--format=json`; not strict, so every problem is ours to word.
  const declared = Object.fromEntries(
    Object.entries(spec.options).map(([name, option]) => [name, { type: option.kind === "flag" ? ("boolean" as const) : ("string" as const) }]),
  );
  const { tokens } = parseArgs({ args: [...argv], options: declared, strict: false, allowPositionals: true, tokens: true });
  const values: Record<string, string | boolean | number | undefined> = {};
  const names = Object.keys(spec.options);
  for (const token of tokens) {
    if (token.kind === "positional") return fail(`unexpected argument ${JSON.stringify(token.value)}`);
    if (token.kind === "option-terminator") continue;
    if (token.name === "help") return { kind: "help", text: helpText(spec) };
    const option = spec.options[token.name];
    const flag = token.rawName;
    if (!option) {
      const guess = closest(token.name, [...names, "help"]);
      return fail(`unknown option ${JSON.stringify(flag)}${guess ? `; did you mean "--${guess}"?` : ""}`);
    }
    if (option.kind === "flag") {
      if (token.value !== undefined) return fail(`${flag} takes no value, got ${JSON.stringify(token.value)}`);
      values[token.name] = true;
      continue;
    }
    const value = token.value;
    if (value === undefined) return fail(`${flag} needs a value: ${flag}=<${option.value}>`);
    if (option.kind === "count") {
      if (!/^\d+$/.test(value) || Number(value) < 1) return fail(`${flag}: ${JSON.stringify(value)} is not a whole number of at least 1`);
      values[token.name] = Number(value);
    } else {
      if (option.choices && !option.choices.includes(value)) {
        const guess = closest(value, option.choices);
        return fail(`${flag}: ${JSON.stringify(value)} is not one of ${option.choices.join(", ")}${guess ? `; did you mean "${guess}"?` : ""}`);
      }
      const problem = option.check?.(value);
      if (problem !== undefined) return fail(`${flag}: ${JSON.stringify(value)} is ${problem}`);
      values[token.name] = value;
    }
  }
  for (const [name, option] of Object.entries(spec.options)) {
    if (values[name] !== undefined) continue;
    values[name] = option.kind === "flag" ? false : option.default;
  }
  return { kind: "run", values: values as CliValues<O> };
}

/**
 * Exits quietly when stdout's reader has gone (`| head`): the rest of the
 * output has no one to read it, and a stack trace would only hide what was read.
 */
export function exitQuietlyOnClosedPipe(): void {
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
}

/**
 * The arguments of this process, read against the spec: `--help` prints the
 * help and exits 0; a bad argument prints one line on stderr and exits 2.
 */
export function readCommandLine<O extends CliSpec["options"]>(spec: CliSpec & { options: O }, argv: readonly string[] = process.argv.slice(2)): CliValues<O> {
  exitQuietlyOnClosedPipe();
  const line = parseCommandLine(spec, argv);
  switch (line.kind) {
    case "help":
      process.stdout.write(line.text);
      return process.exit(0);
    case "error":
      process.stderr.write(`${line.message}\n`);
      return process.exit(2);
    case "run":
      return line.values;
  }
}
