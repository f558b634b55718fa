/**
 * The one door to external commands (docker, git). A real runner executes
 * them; a dry runner only says what it would run. Secrets go through stdin,
 * never through arguments, so a printed command line never holds one.
 */
import { execa } from "execa";

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Written to the command's standard input (e.g. a password). Never printed. */
  readonly input?: string;
  /** Streams the command's output as it runs (long builds are not silent). */
  readonly onOutput?: (line: string) => void;
}

export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Runner {
  readonly dryRun: boolean;
  run(command: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
}

export class CommandError extends Error {
  /** The last lines the command printed: the part of a failure worth keeping. */
  readonly tail: readonly string[];
  constructor(
    readonly command: string,
    readonly result: RunResult,
    /** The output was already shown as it ran: the message leaves the tail out rather than print it twice. */
    streamed = false,
  ) {
    const tail = (result.stderr || result.stdout).trim().split("\n").filter(Boolean).slice(-15);
    super(`${command} failed (exit ${result.exitCode})${tail.length && !streamed ? `:\n${tail.join("\n")}` : ""}`);
    this.name = "CommandError";
    this.tail = tail;
  }
}

/** Quotes a word for display as a shell would need it. */
export const shellWord = (word: string): string => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);
export const commandLine = (command: string, args: readonly string[]): string => [command, ...args].map(shellWord).join(" ");

export function realRunner(): Runner {
  return {
    dryRun: false,
    async run(command, args, options = {}) {
      const child = execa(command, [...args], {
        cwd: options.cwd,
        env: options.env ? { ...process.env, ...options.env } : process.env,
        input: options.input ?? "",
        reject: false,
        all: false,
        stripFinalNewline: false,
      });
      const flushers: (() => void)[] = [];
      if (options.onOutput) {
        // One splitter per stream: a chunk can end in the middle of a line.
        for (const stream of [child.stdout, child.stderr]) {
          const lines = lineSplitter(options.onOutput);
          stream?.on("data", lines.push);
          flushers.push(lines.flush);
        }
      }
      const result = await child;
      for (const flush of flushers) flush();
      return {
        exitCode: result.exitCode ?? (result.failed ? 1 : 0),
        stdout: String(result.stdout ?? ""),
        stderr: String(result.stderr ?? ""),
      };
    },
  };
}

/**
 * Turns a stream of chunks into whole lines: a line is passed on once its
 * newline has arrived (or at `flush`), and blank lines are dropped.
 */
export function lineSplitter(onLine: (line: string) => void): { push: (chunk: Buffer | string) => void; flush: () => void } {
  let pending = "";
  const emit = (line: string) => {
    const text = line.replace(/\r$/, "");
    if (text.trim()) onLine(text);
  };
  return {
    push: (chunk) => {
      const parts = (pending + chunk.toString()).split("\n");
      pending = parts.pop() ?? "";
      for (const part of parts) emit(part);
    },
    flush: () => {
      emit(pending);
      pending = "";
    },
  };
}

/** Says each command it would run, runs nothing, and succeeds with empty output. */
export function dryRunner(print: (line: string) => void): Runner {
  return {
    dryRun: true,
    async run(command, args, options = {}) {
      print(`would run: ${commandLine(command, args)}${options.input !== undefined ? " <stdin>" : ""}`);
      return { exitCode: 0, stdout: "", stderr: "" };
    },
  };
}

/** Runs a command and throws a CommandError (naming the command, not its secrets) when it fails. */
export async function runChecked(runner: Runner, command: string, args: readonly string[], options?: RunOptions): Promise<RunResult> {
  const result = await runner.run(command, args, options);
  if (result.exitCode !== 0) throw new CommandError(commandLine(command, args.slice(0, 3)), result, options?.onOutput !== undefined);
  return result;
}
