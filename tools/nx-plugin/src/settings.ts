/**
 * The one place a task's settings come from: its options (nx.json, checked by
 * options.ts), the OBI_* environment that overrides them for a run, the clock,
 * and the secret files they name. Every executor asks here; nothing else reads
 * OBI_* or a password file.
 */
import { execFileSync } from "node:child_process";
import { DEFAULT_COMMAND_BOUNDS, DEFAULT_RETRY, describeBuilder, parseRepository, type Attestations, type BuilderSpec, type ImageDescription, type ListStamp, type CommandBounds, type RegistryAuth, type Repository, type RetryPolicy } from "../../../libs/docker/src";
import type { Arch } from "../../../libs/ocaml/src";
// The leaf module: the planning code stays out of what the build and publish executors load.
import { DEFAULT_GRACE_DAYS, type Retirement } from "../../../libs/plan/src/retirement";
import type { Repositories } from "../../../libs/tags/src";
import { builderKeyOf, builderObjectSchema, normalizeBuilder, type BuilderKey, type BuilderOption } from "./builders";
import { builderEnv, DEFAULT_LICENSES, DEFAULT_REBUILD_PERIOD_DAYS, DEFAULT_SOURCE, ENV } from "./config";
import { rebuildPeriod as periodOf } from "./rebuild-period.js";

type Env = NodeJS.ProcessEnv;

/**
 * A yes/no from the environment: unset or empty is "not said"; anything but
 * 1/true/0/false is refused, so a typo never turns a dry run into a real one.
 */
export function envFlag(env: Env, name: string): boolean | undefined {
  const value = env[name];
  if (value === undefined || value === "") return undefined;
  if (value === "1" || value === "true") return true;
  if (value === "0" || value === "false") return false;
  throw new Error(`${name}: "${value}" is not a boolean; use 1, true, 0 or false`);
}

/** A repository option after its environment override, as text (what the plan prints) and checked. */
function repositoryOption(option: string, envName: string, env: Env): { readonly text: string; readonly repository: Repository } {
  const fromEnv = env[envName];
  const text = fromEnv || option;
  return { text, repository: parseRepository(text, fromEnv ? envName : "the plugin option for it") };
}

/** The repositories the plan is made for: all that rendering needs. */
export function resolveRepositories(options: { readonly stagingRepo: string; readonly publicRepo: string }, env: Env = process.env): Repositories {
  return { staging: repositoryOption(options.stagingRepo, ENV.stagingRepo, env).text, public: repositoryOption(options.publicRepo, ENV.publicRepo, env).text };
}

/**
 * The rebuild period a moment falls in, as a label; OBI_NOW (an ISO date) stands in for the
 * clock. Part of every build's id; Nx runs the same function as the builds' runtime input.
 */
export function rebuildPeriod(days: number, env: Env = process.env): string {
  return periodOf(days, env);
}

/**
 * The clock and grace period the plan retires deprecated distros with (OBI_NOW
 * stands in for the clock, as for the rebuild period): the plugin's graph, the
 * renders and the status page all plan with this.
 */
export function resolveRetirement(graceDays: number | undefined, env: Env = process.env): Retirement {
  return { now: clock(env), graceDays: graceDays ?? DEFAULT_GRACE_DAYS };
}

/** Now, or the moment OBI_NOW (an ISO date) names in its place. */
function clock(env: Env): Date {
  const text = env[ENV.now];
  if (!text) return new Date();
  const now = Date.parse(text);
  if (Number.isNaN(now)) throw new Error(`${ENV.now} is not a date: ${text}`);
  return new Date(now);
}

/** How many tasks of a batch run at once: OBI_PARALLEL, else NX_PARALLEL, else Nx's default of 3. */
export function batchParallelism(env: Env = process.env): number {
  const own = env[ENV.parallel];
  const [name, value] = own ? [ENV.parallel, own] : env.NX_PARALLEL ? ["NX_PARALLEL", env.NX_PARALLEL] : ["", "3"];
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: "${value}" is not a number of tasks (a whole number from 1)`);
  return n;
}

/**
 * How registry requests and docker's pushes are retried: the defaults
 * (DEFAULT_RETRY), bounded for a run by OBI_REGISTRY_RETRIES (tries in all),
 * OBI_REGISTRY_RETRY_SECONDS (no retry starts later) and
 * OBI_REGISTRY_TIMEOUT_SECONDS (one request's answer). Not task inputs: how
 * hard a run tries changes nothing it makes.
 */
export const RETRY_ENV = { attempts: ENV.retries, seconds: ENV.retrySeconds, timeout: ENV.timeoutSeconds } as const;

export function retryPolicy(env: Env = process.env): RetryPolicy {
  const number = (name: string, min: number): number | undefined => {
    const value = env[name];
    if (value === undefined || value === "") return undefined;
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || (name === RETRY_ENV.attempts && !Number.isInteger(n))) {
      throw new Error(`${name}: "${value}" is not ${name === RETRY_ENV.attempts ? "a whole number of tries from 1" : `a number of seconds from ${min}`}`);
    }
    return n;
  };
  const attempts = number(RETRY_ENV.attempts, 1);
  const seconds = number(RETRY_ENV.seconds, 0);
  const timeout = number(RETRY_ENV.timeout, 0.1);
  return {
    ...DEFAULT_RETRY,
    ...(attempts !== undefined ? { attempts } : {}),
    ...(seconds !== undefined ? { withinMs: seconds * 1000 } : {}),
    ...(timeout !== undefined ? { requestTimeoutMs: timeout * 1000 } : {}),
  };
}

/**
 * How long a child command (docker buildx build, docker build and push, git) may
 * run: OBI_COMMAND_IDLE_SECONDS without printing anything, OBI_COMMAND_TIMEOUT_SECONDS
 * in all (DEFAULT_COMMAND_BOUNDS otherwise). Not task inputs, like the retry bounds.
 */
export function commandBounds(env: Env = process.env): CommandBounds {
  const seconds = (name: string): number | undefined => {
    const value = env[name];
    if (value === undefined || value === "") return undefined;
    const n = Number(value);
    if (!Number.isFinite(n) || n < 1) throw new Error(`${name}: "${value}" is not a number of seconds from 1`);
    return n * 1000;
  };
  const idle = seconds(ENV.commandIdleSeconds);
  const total = seconds(ENV.commandTimeoutSeconds);
  return { idleMs: idle ?? DEFAULT_COMMAND_BOUNDS.idleMs, totalMs: total ?? DEFAULT_COMMAND_BOUNDS.totalMs };
}

/** What a build's options say about its builder. */
export interface BuilderOptions {
  readonly os: "linux" | "windows";
  readonly arch: Arch;
  readonly builder?: BuilderOption;
}

/** A build's builder, resolved: what it is, how many builds it takes at once, and the option that names it. */
export interface ResolvedBuilder {
  readonly spec: BuilderSpec;
  /** Builds it takes at once. */
  readonly slots: number;
  /** The same for every build on the same builder: the batch gives each one queue. */
  readonly queue: string;
  /** How a log line names it: `arm64 builder (ssh://ci@arm64.example.org)`. */
  readonly label: string;
  /** Where it was set, for a message that says what to change: `builders.arm64` or OBI_BUILDER_ARM64. */
  readonly setBy: string;
}

/** A builder from the environment: a buildx builder's name, or the same JSON object the options take. */
function builderFromEnv(name: string, value: string): BuilderOption {
  if (!value.trimStart().startsWith("{")) return value;
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch (e) {
    throw new Error(`${name}: not a builder name nor valid JSON: ${(e as Error).message}`);
  }
  const parsed = builderObjectSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${name}: ${issue?.path.map(String).join(".") || "value"}: ${issue?.message ?? "not a builder"}`);
  }
  return parsed.data;
}

/**
 * A build's builder: OBI_BUILDER_<ARCH> (or OBI_BUILDER_WINDOWS) over the
 * option, else the default builder for Linux; a Windows build without one
 * configured is refused, naming the option to set.
 */
export function resolveBuilder(options: BuilderOptions, env: Env = process.env): ResolvedBuilder {
  const key: BuilderKey = builderKeyOf(options.os, options.arch);
  const envName = builderEnv(key);
  const fromEnv = env[envName];
  const option = fromEnv ? builderFromEnv(envName, fromEnv) : options.builder;
  const setBy = fromEnv ? envName : `builders.${key}`;
  if (option === undefined) {
    if (options.os === "windows") {
      throw new Error(`no Windows builder: Windows images build only on a Windows engine; set builders.windows in the plugin options (nx.json) or ${envName}`);
    }
    return { spec: { kind: "default" }, slots: batchParallelism(env), queue: "default", label: "the default builder", setBy };
  }
  const { slots, ...spec } = normalizeBuilder(option);
  const where = describeBuilder(spec);
  return { spec, slots: slots ?? batchParallelism(env), queue: where, label: `${key} builder (${where})`, setBy };
}

/** What a task's options may say that the settings resolve. */
export interface SettingsOptions {
  readonly stagingRepo: string;
  readonly publicRepo?: string;
  readonly registry?: { readonly server?: string; readonly username?: string; readonly passwordFile?: string };
  readonly dryRun?: boolean;
  /** A build's platform and builder (OBI_BUILDER_<ARCH> may override it). */
  readonly os?: "linux" | "windows";
  readonly arch?: Arch;
  readonly builder?: BuilderOption;
  readonly rebuildPeriodDays?: number;
  /** What the image says of itself (from the plan) and where it comes from (the plugin's imageMetadata). */
  readonly about?: { readonly title: string; readonly description: string; readonly version?: string };
  readonly imageMetadata?: { readonly source: string; readonly licenses: string; readonly vendor?: string; readonly url?: string };
  readonly attestations?: { readonly provenance: "max" | "min" | "off"; readonly sbom: boolean; readonly sbomGenerator?: string };
}

/** A task's settings, resolved. */
export interface Settings {
  readonly staging: Repository;
  /** Absent for tasks that publish nothing. */
  readonly public?: Repository;
  readonly dryRun: boolean;
  /** Where the password file's credentials go: the staging repository's registry unless told otherwise. */
  readonly auth: RegistryAuth;
  /** A build's builder (see resolveBuilder); absent for tasks that build nothing. */
  readonly builder?: ResolvedBuilder;
  /** The rebuild period now (see rebuildPeriod). */
  readonly rebuildPeriod: string;
  /** How registry requests and docker's pushes are retried. */
  readonly retry: RetryPolicy;
  /** How long a child command may be silent, and run in all. */
  readonly commands: CommandBounds;
  /** `nx … --verbose`: a dry run prints each command whole, with full build ids. */
  readonly verbose: boolean;
  /** What the image's labels and lists say of it; absent for tasks about no image. */
  readonly description?: ImageDescription;
  /** The attestations BuildKit makes with each build. */
  readonly attestations: Attestations;
}

/**
 * Whether the tasks of a graph are a dry run: OBI_DRY_RUN, else the plugin's
 * `dryRun` option. The plugin reads it when Nx makes the graph (Nx 24 makes it
 * again when the environment changes), so each task's options, and with them
 * where its records go (libs/records/src/layout.ts), say it.
 */
export function graphDryRun(option: boolean, env: Env = process.env): boolean {
  return envFlag(env, ENV.dryRun) ?? option;
}

/**
 * A task's mode is what its options say (the graph's setting, or `--dryRun`),
 * since they decide where its records go; the environment may not say otherwise.
 */
function taskDryRun(options: SettingsOptions, env: Env, writes: TaskWrites): boolean {
  const fromEnv = envFlag(env, ENV.dryRun);
  // A task that writes no record (update-pins) has no mode of its own to keep.
  if (writes === "nothing") return fromEnv ?? options.dryRun === true;
  if (options.dryRun === false) throw new Error("--dryRun=false: a real run is the default; to turn off the plugin's dryRun option for a run, set OBI_DRY_RUN=0");
  const dry = options.dryRun === true;
  if (fromEnv === true && !dry) {
    throw new Error(`${ENV.dryRun}=${env[ENV.dryRun] ?? ""}, but this task's options are a real run's (its project graph was made without it): run it again, or npx nx reset first`);
  }
  return dry;
}

/** Whether a task writes records under dist/ (a build, a publish), whose place its mode decides. */
export type TaskWrites = "records" | "nothing";

export function resolveSettings(options: SettingsOptions, env: Env = process.env, writes: TaskWrites = "records"): Settings {
  const staging = repositoryOption(options.stagingRepo, ENV.stagingRepo, env).repository;
  const registry = options.registry ?? {};
  const username = env[ENV.username] || registry.username;
  const passwordFile = env[ENV.passwordFile] || registry.passwordFile;
  const builder = options.arch ? resolveBuilder({ os: options.os ?? "linux", arch: options.arch, ...(options.builder !== undefined ? { builder: options.builder } : {}) }, env) : undefined;
  return {
    staging,
    ...(options.publicRepo !== undefined ? { public: repositoryOption(options.publicRepo, ENV.publicRepo, env).repository } : {}),
    dryRun: taskDryRun(options, env, writes),
    auth: {
      server: env[ENV.server] || registry.server || staging.registry,
      ...(username ? { username } : {}),
      ...(passwordFile ? { passwordFile } : {}),
    },
    ...(builder ? { builder } : {}),
    rebuildPeriod: rebuildPeriod(options.rebuildPeriodDays ?? DEFAULT_REBUILD_PERIOD_DAYS, env),
    retry: retryPolicy(env),
    commands: commandBounds(env),
    verbose: env[ENV.verbose] === "true",
    ...(options.about ? { description: describeImage(options.about, options.imageMetadata) } : {}),
    attestations: resolveAttestations(options.attestations),
  };
}

/**
 * The notification webhook (like upstream's `--slack URI-FILE`): the first line
 * of a secret file, an http(s) URL. A problem names the file, never its text.
 */
export function readWebhookUrl(file: string, read: (path: string) => string): URL {
  let text: string;
  try {
    text = read(file);
  } catch (e) {
    throw new Error(`cannot read the webhook file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const line = (text.split("\n")[0] ?? "").trim();
  let url: URL | undefined;
  try {
    url = new URL(line);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) throw new Error(`${file}: the first line is not an http(s) URL`);
  return url;
}

/**
 * Where the deployment (tools/service/stack.yml) mounts its Docker secrets, and
 * so what its OBI_* settings name: upstream's names where upstream has them.
 * Files only; never a value in an environment variable.
 */
export const DEPLOYED_SECRETS = {
  /** The registry password (upstream's ocurrent-hub). */
  hub: "/run/secrets/ocurrent-hub",
  /** The SSH builders' private key (upstream's ocurrent-ssh-key). */
  sshKey: "/run/secrets/ocurrent-ssh-key",
  /** The SSH builders' host keys, as known_hosts lines. */
  knownHosts: "/run/secrets/ci-known-hosts",
  /** The TLS builders' client key (upstream's ocurrent-tls-key), certificate and CA. */
  tlsKey: "/run/secrets/ocurrent-tls-key",
  tlsCert: "/run/secrets/ocurrent-tls-cert",
  tlsCa: "/run/secrets/ocurrent-tls-ca",
  /** The remote cache's read-write and read-only tokens. */
  cacheReadWrite: "/run/secrets/nx-cache-rw",
  cacheReadOnly: "/run/secrets/nx-cache-ro",
  /** The notification webhook's URL (upstream's --slack file). */
  slack: "/run/secrets/base-images-slack",
} as const;

/** An image's description: what the plan says of it, and where it comes from (the plugin's imageMetadata). */
export function describeImage(about: NonNullable<SettingsOptions["about"]>, metadata: SettingsOptions["imageMetadata"]): ImageDescription {
  return {
    ...about,
    source: metadata?.source ?? DEFAULT_SOURCE,
    licenses: metadata?.licenses ?? DEFAULT_LICENSES,
    ...(metadata?.vendor ? { vendor: metadata.vendor } : {}),
    ...(metadata?.url ? { url: metadata.url } : {}),
  };
}

function resolveAttestations(option: SettingsOptions["attestations"]): Attestations {
  const { provenance = "max", sbom = true, sbomGenerator } = option ?? {};
  return { provenance, sbom: sbom ? { generator: sbomGenerator ?? null } : "off" };
}

/**
 * When and from which commit a manifest list is written (its `created` and `revision`
 * annotations): the clock (OBI_NOW stands in) and OBI_REVISION, else the workspace's
 * git HEAD when it is a checkout. Never a task input: only the lists carry them.
 */
export function listStamp(root: string, env: Env = process.env): ListStamp {
  const created = clock(env).toISOString();
  let revision = env[ENV.revision] || undefined;
  if (!revision) {
    try {
      revision = execFileSync("git", ["rev-parse", "--verify", "HEAD"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() || undefined;
    } catch {
      revision = undefined;
    }
  }
  return { created, ...(revision ? { revision } : {}) };
}
