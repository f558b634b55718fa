/**
 * The one door to external commands (docker, git). A real runner executes
 * them; a dry runner only says what it would run. Secrets go through stdin,
 * never through arguments, so a printed command line never holds one.
 */
import { readdirSync, readFileSync } from "node:fs";
import { execa } from "execa";

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Written to the command's standard input (e.g. a password). Never printed. */
  readonly input?: string;
  /** Streams the command's output as it runs (long builds are not silent). */
  readonly onOutput?: (line: string) => void;
  /** Tighter bounds for this command than the runner's (a question that should answer in seconds). */
  readonly bounds?: CommandBounds;
}

export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the command did not exit by itself: killed by a signal (ours or anyone's), or stopped by a bound. */
  readonly ended?: CommandEnd;
}

/** How a command that did not exit by itself ended: structured, so no caller reads it out of the output's words. */
export type CommandEnd =
  | { readonly kind: "signal"; readonly signal: string }
  | { readonly kind: "idle"; readonly afterMs: number }
  | { readonly kind: "overall"; readonly afterMs: number };

/**
 * How long a child command may run: stopped when it prints nothing for
 * `idleMs` (a push whose request the registry never answers is silent), or
 * runs longer than `totalMs` in all.
 */
export interface CommandBounds {
  readonly idleMs: number;
  readonly totalMs: number;
}

/** Room for real builds: a long opam step can be silent for many minutes, a full build of a compiler on QEMU takes hours. */
export const DEFAULT_COMMAND_BOUNDS: CommandBounds = { idleMs: 30 * 60_000, totalMs: 6 * 3_600_000 };

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(1))} s`;

/** What a stopped or killed command's end says, for an error message. */
export function describeEnd(end: CommandEnd): string {
  switch (end.kind) {
    case "signal":
      return `killed by ${end.signal}`;
    case "idle":
      return `printed nothing for ${seconds(end.afterMs)} (the no-progress bound); stopped`;
    case "overall":
      return `still running after ${seconds(end.afterMs)} (the overall bound); stopped`;
  }
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
    const how = !result.ended ? `failed (exit ${result.exitCode})` : result.ended.kind === "signal" ? `failed (${describeEnd(result.ended)})` : describeEnd(result.ended);
    super(`${command} ${how}${tail.length && !streamed ? `:\n${tail.join("\n")}` : ""}`);
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

/** The processes below `pid` (its children, theirs…), from /proc: docker runs buildx as a child of its own. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return [];
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
    } catch {
      // Gone meanwhile.
    }
  }
  const found: number[] = [];
  const walk = (p: number) => {
    for (const child of parents.get(p) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

/** Stops a command and what it started: SIGTERM, then SIGKILL for what is left after a grace period. */
function stopTree(pid: number, graceMs = 5_000): void {
  const tree = [pid, ...descendants(pid)];
  const signal = (sig: NodeJS.Signals) => {
    for (const p of tree) {
      try {
        process.kill(p, sig);
      } catch {
        // Already gone.
      }
    }
  };
  signal("SIGTERM");
  setTimeout(() => signal("SIGKILL"), graceMs).unref();
}

/** Runs commands for real, each stopped (with what it started) when it outlives `bounds`. */
export function realRunner(bounds: CommandBounds = DEFAULT_COMMAND_BOUNDS): Runner {
  return {
    dryRun: false,
    async run(command, args, options = {}) {
      const limits = options.bounds ? { idleMs: Math.min(options.bounds.idleMs, bounds.idleMs), totalMs: Math.min(options.bounds.totalMs, bounds.totalMs) } : bounds;
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
      let stopped: CommandEnd | undefined;
      const stop = (end: CommandEnd) => {
        if (stopped || child.pid === undefined) return;
        stopped = end;
        stopTree(child.pid);
      };
      const overall = setTimeout(() => stop({ kind: "overall", afterMs: limits.totalMs }), limits.totalMs);
      let idle = setTimeout(() => stop({ kind: "idle", afterMs: limits.idleMs }), limits.idleMs);
      const progressed = () => {
        clearTimeout(idle);
        if (!stopped) idle = setTimeout(() => stop({ kind: "idle", afterMs: limits.idleMs }), limits.idleMs);
      };
      const flushers: (() => void)[] = [];
      for (const stream of [child.stdout, child.stderr]) {
        stream?.on("data", progressed);
        if (options.onOutput) {
          // One splitter per stream: a chunk can end in the middle of a line.
          const lines = lineSplitter(options.onOutput);
          stream?.on("data", lines.push);
          flushers.push(lines.flush);
        }
      }
      const result = await child;
      clearTimeout(overall);
      clearTimeout(idle);
      for (const flush of flushers) flush();
      const ended: CommandEnd | undefined = stopped ?? (result.signal ? { kind: "signal", signal: result.signal } : undefined);
      return {
        exitCode: result.exitCode ?? (result.failed ? 1 : 0),
        stdout: String(result.stdout ?? ""),
        stderr: String(result.stderr ?? ""),
        ...(ended ? { ended } : {}),
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

/**
 * Says each command it would run, runs nothing, and succeeds with empty output:
 * `whole`, every argument; `short`, the command and its subcommand (`docker buildx build …`).
 */
export function dryRunner(print: (line: string) => void, show: "whole" | "short" = "whole"): Runner {
  return {
    dryRun: true,
    async run(command, args, options = {}) {
      // The words before the first flag, at most two: `buildx build`, `push <tag>`.
      const firstFlag = args.findIndex((a) => a.startsWith("-"));
      const words = args.slice(0, Math.min(2, firstFlag === -1 ? args.length : firstFlag));
      const shown = show === "whole" || words.length === args.length ? commandLine(command, args) : `${commandLine(command, words)} … (--verbose shows it whole)`;
      print(`would run: ${shown}${options.input !== undefined ? " <stdin>" : ""}`);
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
