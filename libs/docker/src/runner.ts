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

/**
 * What a child command inherits from our environment, by name: what docker,
 * buildx and git need to find their binaries, config, builders, daemons, SSH
 * agent and proxies, and the locale. Nothing else: Nx's remote cache token, CI
 * tokens and the like stay in this process.
 */
export const CHILD_ENV_NAMES: readonly string[] = [
  "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "TZ", "LANG", "LANGUAGE", "TERM", "NO_COLOR",
  "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME",
  // docker's own variables (not every DOCKER_*: CI systems keep DOCKER_PASSWORD and the like there).
  "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "DOCKER_TLS",
  "DOCKER_API_VERSION", "DOCKER_BUILDKIT", "DOCKER_CLI_EXPERIMENTAL", "DOCKER_DEFAULT_PLATFORM",
  // A builder or context reached over ssh:// uses the agent, never a key in the environment.
  "SSH_AUTH_SOCK",
  "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy",
  "GIT_SSH", "GIT_SSH_COMMAND", "GIT_TERMINAL_PROMPT",
];
/** Families of names passed on whole: buildx's and BuildKit's settings, and the locale's. */
export const CHILD_ENV_PREFIXES: readonly string[] = ["BUILDX_", "BUILDKIT_", "LC_"];
/** Refused whatever list lets them in: a name that says it holds a secret. */
const SECRET_NAME = /TOKEN|SECRET|PASSW|CREDENTIAL|_KEY$|APIKEY/i;

/** The environment a child command gets: the allowed part of `env`, then what the caller adds (e.g. DOCKER_CONFIG). */
export function childEnvironment(env: NodeJS.ProcessEnv, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const allowed: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || SECRET_NAME.test(name)) continue;
    if (CHILD_ENV_NAMES.includes(name) || CHILD_ENV_PREFIXES.some((prefix) => name.startsWith(prefix))) allowed[name] = value;
  }
  return { ...allowed, ...extra };
}

export function realRunner(): Runner {
  return {
    dryRun: false,
    async run(command, args, options = {}) {
      const child = execa(command, [...args], {
        cwd: options.cwd,
        // Only what the child needs: extendEnv would hand it all of ours.
        env: childEnvironment(process.env, options.env),
        extendEnv: false,
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
