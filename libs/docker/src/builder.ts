/**
 * Builders: where a build runs. A named buildx builder or docker context the
 * user set up, or an engine the executor reaches itself over SSH (a private key
 * file and a known-hosts file) or TCP with TLS (CA, certificate and key files).
 *
 * Key and certificate files are checked when a build connects and named in a
 * private temporary client configuration (a folder of mode 0700, removed when
 * the connection is closed; on tmpfs unless it is mounted noexec, as /dev/shm is in
 * a container, since docker must be able to run the `ssh` in it): an ssh_config and an `ssh` that reads only it, or
 * a DOCKER_CERT_PATH whose ca.pem, cert.pem and key.pem link to the files. The
 * secrets are never copied (a killed run leaves no copy of a key behind), never
 * in arguments or log lines, and the user's ~/.ssh and ~/.docker are not used.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, symlinkSync, writeFileSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { secretDir } from "./credentials";
import { childEnvironment, commandLine, describeEnd, type Runner, type RunResult } from "./runner";

/** What a build runs on. */
export type BuilderSpec =
  /** The engine docker talks to by default (DOCKER_HOST or the current context), with its default buildx builder. */
  | { readonly kind: "default" }
  /** An existing buildx builder, by name (`docker buildx create --name …`). */
  | { readonly kind: "buildx"; readonly name: string }
  /** An existing docker context, by name (`docker context create …`): its engine's own builder. */
  | { readonly kind: "context"; readonly name: string }
  /** An engine over SSH: `ssh://user@host[:port]`; the far side runs `docker system dial-stdio`. */
  | { readonly kind: "ssh"; readonly host: string; readonly keyFile: string; readonly knownHostsFile: string }
  /** An engine over TCP with TLS client certificates: `tcp://host:port`. */
  | { readonly kind: "tls"; readonly host: string; readonly caFile: string; readonly certFile: string; readonly keyFile: string };

/** A builder as a person reads it in a log line: its name or endpoint, never a file's content. */
export function describeBuilder(spec: BuilderSpec): string {
  switch (spec.kind) {
    case "default":
      return "the default builder";
    case "buildx":
      return `buildx builder ${spec.name}`;
    case "context":
      return `docker context ${spec.name}`;
    case "ssh":
    case "tls":
      return spec.host;
  }
}

/** Arguments for `docker buildx build` that select the builder: only a named buildx builder needs any. */
export const buildxArgsFor = (spec: BuilderSpec): readonly string[] => (spec.kind === "buildx" ? ["--builder", spec.name] : []);

/** A connection to a builder: what docker commands need to reach it. */
export interface BuilderConnection {
  /** Environment for docker commands (DOCKER_HOST, TLS settings, a PATH whose `ssh` uses the private configuration). */
  readonly env: Readonly<Record<string, string>>;
  /** Arguments for `docker buildx build` that select the builder. */
  readonly buildxArgs: readonly string[];
  close(): void;
}

export class BuilderError extends Error {
  override readonly name = "BuilderError";
}

function readable(path: string, what: string): void {
  try {
    accessSync(path, constants.R_OK);
  } catch (e) {
    throw new BuilderError(`cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The first `name` on PATH that is not in `skip` (the real ssh, not our wrapper). */
function onPath(name: string, env: NodeJS.ProcessEnv): string {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  throw new BuilderError(`no ${name} on PATH (docker reaches an ssh:// engine through the ssh client)`);
}

/** A link to a secret file, under the name a client looks for: the secret itself stays where it is. */
function linkSecret(from: string, to: string, what: string): void {
  readable(from, what);
  symlinkSync(resolve(from), to);
}

/** A path as ssh_config reads it. */
const sshPath = (path: string): string => `"${resolve(path)}"`;

/**
 * Connects to a builder: for SSH and TLS endpoints, writes the private client
 * configuration; for the others, only says how to select them.
 */
export function connectBuilder(spec: BuilderSpec, env: NodeJS.ProcessEnv = process.env): BuilderConnection {
  switch (spec.kind) {
    case "default":
      return { env: {}, buildxArgs: [], close: () => {} };
    case "buildx":
      return { env: {}, buildxArgs: buildxArgsFor(spec), close: () => {} };
    case "context":
      return { env: { DOCKER_CONTEXT: spec.name }, buildxArgs: [], close: () => {} };
    case "ssh": {
      readable(spec.keyFile, "SSH private key file");
      readable(spec.knownHostsFile, "known-hosts file");
      const realSsh = onPath("ssh", env);
      // docker runs the `ssh` first on PATH that it may run: our folder must allow programs
      // (in a container, /dev/shm is noexec and docker would run the plain ssh instead).
      const dir = secretDir("ssh", { programs: true });
      try {
        // Only this key, only these host keys, no agent, no prompt: a wrong key or an
        // unknown host fails at once instead of asking or trying the user's keys.
        const config = [
          "Host *",
          `  IdentityFile ${sshPath(spec.keyFile)}`,
          "  IdentitiesOnly yes",
          "  IdentityAgent none",
          `  UserKnownHostsFile ${sshPath(spec.knownHostsFile)}`,
          "  GlobalKnownHostsFile /dev/null",
          "  StrictHostKeyChecking yes",
          "  BatchMode yes",
          "  ConnectTimeout 10",
          "  ServerAliveInterval 15",
          "  ServerAliveCountMax 4",
          // One ssh connection for every docker command of this connection (buildx opens
          // several per build): the first becomes the master, the others ride on it.
          // Its socket is in this folder; close() ends it, and ControlPersist bounds a
          // master whose run was killed before it could.
          "  ControlMaster auto",
          `  ControlPath ${sshPath(join(dir.path, "control"))}`,
          "  ControlPersist 60",
          "",
        ].join("\n");
        writeFileSync(join(dir.path, "ssh_config"), config, { mode: 0o600 });
        // docker runs `ssh` from PATH; this one reads our configuration and nothing of ~/.ssh.
        writeFileSync(join(dir.path, "ssh"), `#!/bin/sh\nexec ${commandLine(realSsh, ["-F", join(dir.path, "ssh_config")])} "$@"\n`, { mode: 0o700 });
      } catch (e) {
        dir.dispose();
        throw e;
      }
      const config = join(dir.path, "ssh_config");
      return {
        env: { DOCKER_HOST: spec.host, PATH: `${dir.path}${delimiter}${env.PATH ?? ""}` },
        buildxArgs: [],
        close: () => {
          // Ends the shared connection, if one was made (no master: ssh says so and exits).
          if (existsSync(join(dir.path, "control"))) {
            spawnSync(realSsh, ["-F", config, "-O", "exit", "builder"], { stdio: "ignore", timeout: 10_000, env: childEnvironment(env) });
          }
          dir.dispose();
        },
      };
    }
    case "tls": {
      const dir = secretDir("tls");
      try {
        linkSecret(spec.caFile, join(dir.path, "ca.pem"), "TLS CA file");
        linkSecret(spec.certFile, join(dir.path, "cert.pem"), "TLS certificate file");
        linkSecret(spec.keyFile, join(dir.path, "key.pem"), "TLS key file");
      } catch (e) {
        dir.dispose();
        throw e;
      }
      return {
        env: { DOCKER_HOST: spec.host, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: dir.path },
        buildxArgs: [],
        close: dir.dispose,
      };
    }
  }
}

/** What a builder said about itself when asked. */
export interface BuilderFacts {
  /** Platforms it builds, e.g. linux/amd64, linux/arm64 (for a classic Windows engine: windows/amd64). */
  readonly platforms: readonly string[];
  /** The engine's own name (`docker info`), when it is an engine we reach directly. */
  readonly engine?: string;
  /**
   * Whether it makes BuildKit's attestations: not the classic builder, nor buildx's
   * `docker` driver on an engine without the containerd image store. Unset: not asked.
   */
  readonly attestations?: boolean;
}

/** The one line worth keeping from a failed docker command: ssh's or the engine's own words. */
export function causeOf(output: string): string {
  const text = output.replace(/\r/g, "");
  const fromSsh = /stderr=([^\n]+)/.exec(text)?.[1];
  if (fromSsh) return fromSsh.trim().replace(/\.$/, "");
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  const line = lines.find((l) => /^(ERROR|error|Cannot connect|error during connect)/.test(l)) ?? lines.at(-1) ?? "no answer";
  return line.replace(/^(ERROR: |error: )/, "");
}

/** How `docker buildx inspect --bootstrap` is asked of an engine that answered `docker version`. */
export interface InspectRetry {
  /** Tries in all (under load, a remote engine's answer can miss buildx's own time limit once). */
  readonly tries: number;
  /** Pauses between tries. */
  readonly pausesMs: readonly number[];
  /** One try's bound: it should answer in seconds. */
  readonly tryMs: number;
}

export const DEFAULT_INSPECT_RETRY: InspectRetry = { tries: 3, pausesMs: [1_000, 2_000], tryMs: 60_000 };

/** Why a `docker buildx inspect` answer is no answer, or undefined when it lists platforms. */
function inspectProblem(r: RunResult): string | undefined {
  if (r.ended && r.ended.kind !== "signal") return `docker buildx inspect ${describeEnd(r.ended)}`;
  if (r.exitCode !== 0) return causeOf(r.stderr || r.stdout);
  // An engine it cannot reach is not a failure to buildx inspect: it says so on an `Error:` line.
  const error = /^Error:\s*(.+)$/m.exec(r.stdout)?.[1];
  if (error) return causeOf(error);
  if (platformsOf(r.stdout).length === 0) return "it lists no platforms (is its BuildKit running?)";
  return undefined;
}

const platformsOf = (inspected: string): string[] =>
  [...inspected.matchAll(/^Platforms:\s*(.*)$/gm)].flatMap((m) => (m[1] ?? "").split(",").map((p) => p.trim().replace(/\*$/, "")).filter(Boolean));

/**
 * Asks a builder what it builds: a buildx builder (BuildKit) lists its platforms;
 * a Windows engine (no BuildKit) answers `docker version` with its OS and arch.
 * Throws a BuilderError with the cause in one line when it cannot be reached.
 * An engine that answered `docker version` is asked `docker buildx inspect --bootstrap`
 * up to `retry.tries` times (each retry said through `onRetry`); a named buildx builder, once.
 */
export async function inspectBuilder(
  runner: Runner,
  spec: BuilderSpec,
  connection: BuilderConnection,
  kind: "buildkit" | "classic",
  baseEnv: Readonly<Record<string, string>> = {},
  onRetry: (line: string) => void = () => {},
  retry: InspectRetry = DEFAULT_INSPECT_RETRY,
): Promise<BuilderFacts> {
  const env = { ...baseEnv, ...connection.env };
  // `docker version` says best why an engine cannot be reached (ssh's own words, a refused port).
  const answered = spec.kind !== "buildx";
  if (answered) {
    const version = await runner.run("docker", ["version", "--format", "{{.Server.Os}}/{{.Server.Arch}}"], { env, bounds: { idleMs: retry.tryMs, totalMs: retry.tryMs } });
    if (version.exitCode !== 0 || version.ended) throw new BuilderError(version.ended && version.ended.kind !== "signal" ? `docker version ${describeEnd(version.ended)}` : causeOf(version.stderr || version.stdout));
    // No BuildKit on Windows engines: the engine's own platform is the one it builds.
    if (kind === "classic") return { platforms: [version.stdout.trim()] };
  } else if (kind === "classic") {
    throw new BuilderError("a buildx builder cannot build Windows images (Windows containers have no BuildKit); name the Windows engine's docker context or endpoint");
  }
  const tries = answered ? Math.max(1, retry.tries) : 1;
  for (let attempt = 1; ; attempt++) {
    const r = await runner.run("docker", ["buildx", "inspect", "--bootstrap", ...connection.buildxArgs], { env, bounds: { idleMs: retry.tryMs, totalMs: retry.tryMs } });
    const problem = inspectProblem(r);
    if (problem === undefined) return { platforms: platformsOf(r.stdout), attestations: await makesAttestations(runner, r.stdout, env) };
    if (attempt >= tries) throw new BuilderError(problem);
    const pause = retry.pausesMs[Math.min(attempt - 1, retry.pausesMs.length - 1)] ?? 0;
    onRetry(`${describeBuilder(spec)} answered docker version, but docker buildx inspect did not (${problem}); trying again in ${pause / 1000} s (try ${attempt + 1} of ${tries})`);
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

/**
 * Whether a BuildKit builder makes attestations: any driver but `docker` does; the `docker`
 * driver only on an engine with the containerd image store (`docker info` names its snapshotter).
 * When the engine will not say, the build tries and finds out.
 */
async function makesAttestations(runner: Runner, inspected: string, env: Readonly<Record<string, string>>): Promise<boolean> {
  const driver = /^Driver:\s*(\S+)/m.exec(inspected)?.[1];
  if (driver !== "docker") return true;
  const info = await runner.run("docker", ["info", "--format", "{{json .DriverStatus}}"], { env });
  if (info.exitCode !== 0) return true;
  return /io\.containerd\.snapshotter/.test(info.stdout);
}

/** Whether a builder that offers `platforms` builds `platform` (linux/amd64 covers linux/amd64/v2 and the like). */
export const offersPlatform = (platforms: readonly string[], platform: string): boolean =>
  platforms.some((p) => p === platform || p.startsWith(`${platform}/`));
