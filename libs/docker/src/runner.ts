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
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    const tail = (result.stderr || result.stdout).trim().split("\n").slice(-15).join("\n");
    super(`${command} failed (exit ${result.exitCode})${tail ? `:\n${tail}` : ""}`);
    this.name = "CommandError";
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
      if (options.onOutput) {
        const forward = (chunk: Buffer | string) => {
          for (const line of chunk.toString().split("\n")) if (line.trim()) options.onOutput?.(line);
        };
        child.stdout?.on("data", forward);
        child.stderr?.on("data", forward);
      }
      const result = await child;
      return {
        exitCode: result.exitCode ?? (result.failed ? 1 : 0),
        stdout: String(result.stdout ?? ""),
        stderr: String(result.stderr ?? ""),
      };
    },
  };
}

/** Prints each command it is given and succeeds with empty output. */
export function dryRunner(print: (line: string) => void): Runner {
  return {
    dryRun: true,
    async run(command, args, options = {}) {
      print(`[dry run] ${commandLine(command, args)}${options.input !== undefined ? " <stdin>" : ""}`);
      return { exitCode: 0, stdout: "", stderr: "" };
    },
  };
}

/** Runs a command and throws a CommandError (naming the command, not its secrets) when it fails. */
export async function runChecked(runner: Runner, command: string, args: readonly string[], options?: RunOptions): Promise<RunResult> {
  const result = await runner.run(command, args, options);
  if (result.exitCode !== 0) throw new CommandError(commandLine(command, args.slice(0, 3)), result);
  return result;
}
