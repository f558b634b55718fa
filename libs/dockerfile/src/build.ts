/**
 * Small combinators that build Dockerfile values. Every builder returns a
 * Dockerfile (a list), so pieces compose with `dockerfile(a, b, c)`.
 */
import type {
  AddOptions,
  Command,
  CopyOptions,
  Dockerfile,
  Heredoc,
  Instruction,
  Mount,
  ParserDirective,
  RunOptions,
} from "./model";

/** A part of a Dockerfile: a whole Dockerfile, or nothing (for optional parts). */
export type Part = Dockerfile | false | null | undefined;

/** Concatenates parts in order, skipping the empty ones. */
export function dockerfile(...parts: readonly Part[]): Dockerfile {
  const out: Instruction[] = [];
  for (const part of parts) if (part) out.push(...part);
  return out;
}

export const empty: Dockerfile = [];

const one = (instruction: Instruction): Dockerfile => [instruction];

export const parserDirective = (directive: ParserDirective): Dockerfile => one({ kind: "directive", directive });
export const syntax = (value: string): Dockerfile => parserDirective({ name: "syntax", value });
export const escapeDirective = (char: "\\" | "`"): Dockerfile => parserDirective({ name: "escape", char });
export const comment = (text: string): Dockerfile => one({ kind: "comment", text });

export const from = (image: string, opts: { tag?: string; alias?: string; platform?: string } = {}): Dockerfile =>
  one({ kind: "from", image, ...opts });

export const run = (command: string, options: RunOptions = {}): Dockerfile =>
  one({ kind: "run", command: { form: "shell", commands: [command] }, options });
export const runExec = (argv: readonly string[], options: RunOptions = {}): Dockerfile =>
  one({ kind: "run", command: { form: "exec", argv }, options });
export const runHeredoc = (
  docs: readonly { heredoc: Heredoc; command?: string }[],
  options: RunOptions = {},
): Dockerfile => one({ kind: "run-heredoc", docs, options });

export const cmd = (command: string): Dockerfile => one({ kind: "cmd", command: shellForm(command) });
export const cmdExec = (argv: readonly string[]): Dockerfile => one({ kind: "cmd", command: { form: "exec", argv } });
export const entrypoint = (command: string): Dockerfile => one({ kind: "entrypoint", command: shellForm(command) });
export const entrypointExec = (argv: readonly string[]): Dockerfile =>
  one({ kind: "entrypoint", command: { form: "exec", argv } });
export const shell = (argv: readonly string[]): Dockerfile => one({ kind: "shell", argv });

export const env = (vars: readonly (readonly [string, string])[]): Dockerfile => one({ kind: "env", vars });
export const arg = (name: string, defaultValue?: string): Dockerfile =>
  one(defaultValue === undefined ? { kind: "arg", name } : { kind: "arg", name, default: defaultValue });
export const label = (labels: readonly (readonly [string, string])[]): Dockerfile => one({ kind: "label", labels });

export const copy = (sources: readonly string[], dest: string, options: CopyOptions = {}): Dockerfile =>
  one({ kind: "copy", sources, dest, options });
export const add = (sources: readonly string[], dest: string, options: AddOptions = {}): Dockerfile =>
  one({ kind: "add", sources, dest, options });
export const copyHeredoc = (
  docs: readonly Heredoc[],
  dest: string,
  opts: { chown?: string; chmod?: number } = {},
): Dockerfile => one({ kind: "copy-heredoc", docs, dest, ...opts });

export const user = (name: string): Dockerfile => one({ kind: "user", user: name });
export const workdir = (path: string): Dockerfile => one({ kind: "workdir", path });
export const expose = (...ports: number[]): Dockerfile => one({ kind: "expose", ports });
export const volume = (...paths: string[]): Dockerfile => one({ kind: "volume", paths });
export const stopsignal = (signal: string): Dockerfile => one({ kind: "stopsignal", signal });

export const heredoc = (body: string, opts: { word?: string; delimiter?: string; strip?: boolean } = {}): Heredoc => {
  const word = opts.word ?? "EOF";
  return { body, word, delimiter: opts.delimiter ?? word, strip: opts.strip ?? false };
};

export const bindMount = (target: string, opts: { source?: string; from?: string; readwrite?: boolean } = {}): Mount => ({
  type: "bind",
  target,
  ...opts,
});

/** A tmpfs at `target` for one RUN; `size` in bytes (Docker only). */
export const tmpfsMount = (target: string, opts: { size?: number } = {}): Mount => ({ type: "tmpfs", target, ...opts });

function shellForm(command: string): Command {
  return { form: "shell", commands: [command] };
}

/**
 * Joins every run of consecutive shell-form RUN instructions with equal options
 * into one RUN (`a && b && c`), so related steps make one layer.
 */
export function crunch(file: Dockerfile): Dockerfile {
  const out: Instruction[] = [];
  for (const instruction of file) {
    const previous = out[out.length - 1];
    if (
      previous?.kind === "run" &&
      instruction.kind === "run" &&
      previous.command.form === "shell" &&
      instruction.command.form === "shell"
    ) {
      if (!sameRunOptions(previous.options, instruction.options)) {
        throw new Error("crunch: consecutive RUN instructions have different mounts, network or security");
      }
      out[out.length - 1] = {
        kind: "run",
        options: previous.options,
        command: { form: "shell", commands: [...previous.command.commands, ...instruction.command.commands] },
      };
    } else {
      out.push(instruction);
    }
  }
  return out;
}

function sameRunOptions(a: RunOptions, b: RunOptions): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
