/**
 * The one place a task's settings come from: its options (nx.json, checked by
 * options.ts), the OBI_* environment that overrides them for a run, the clock,
 * and the secret files they name. Every executor asks here; nothing else reads
 * OBI_* or a password file.
 */
import { execFileSync } from "node:child_process";
import {
  DEFAULT_RETRY,
  describeBuilder,
  parseRepository,
  type Attestations,
  type BuilderSpec,
  type ImageDescription,
  type ListStamp,
  type RegistryAuth,
  type Repository,
  type RetryPolicy,
} from "../../../libs/docker/src";
import type { Arch } from "../../../libs/ocaml/src";
import type { Repositories } from "../../../libs/tags/src";
import { builderKeyOf, builderObjectSchema, normalizeBuilder, type BuilderKey, type BuilderOption } from "./builders";
import { builderEnv, DEFAULT_LICENSES, DEFAULT_REBUILD_PERIOD_DAYS, DEFAULT_SOURCE, ENV } from "./config";

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

const DAY_MS = 86_400_000;

/**
 * The rebuild period a moment falls in (periods count from the Unix epoch), as
 * a label; OBI_NOW (an ISO date) stands in for the clock. Part of every build's id,
 * and the same computation Nx runs as the builds' runtime input (config.ts).
 */
export function rebuildPeriod(days: number, env: Env = process.env): string {
  if (days <= 0) return "none";
  const now = env.OBI_NOW ? Date.parse(env.OBI_NOW) : Date.now();
  if (Number.isNaN(now)) throw new Error(`OBI_NOW is not a date: ${env.OBI_NOW}`);
  return `${days}d#${Math.floor(now / (days * DAY_MS))}`;
}

/** How many tasks of a batch run at once: OBI_PARALLEL, else NX_PARALLEL, else Nx's default of 3. */
export function batchParallelism(env: Env = process.env): number {
  const [name, value] = env.OBI_PARALLEL ? ["OBI_PARALLEL", env.OBI_PARALLEL] : env.NX_PARALLEL ? ["NX_PARALLEL", env.NX_PARALLEL] : ["", "3"];
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
export const RETRY_ENV = { attempts: "OBI_REGISTRY_RETRIES", seconds: "OBI_REGISTRY_RETRY_SECONDS", timeout: "OBI_REGISTRY_TIMEOUT_SECONDS" } as const;

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
  /** What the image's labels and lists say of it; absent for tasks about no image. */
  readonly description?: ImageDescription;
  /** The attestations BuildKit makes with each build. */
  readonly attestations: Attestations;
}

export function resolveSettings(options: SettingsOptions, env: Env = process.env): Settings {
  const staging = repositoryOption(options.stagingRepo, ENV.stagingRepo, env).repository;
  const registry = options.registry ?? {};
  const username = env[ENV.username] || registry.username;
  const passwordFile = env[ENV.passwordFile] || registry.passwordFile;
  const builder = options.arch ? resolveBuilder({ os: options.os ?? "linux", arch: options.arch, ...(options.builder !== undefined ? { builder: options.builder } : {}) }, env) : undefined;
  return {
    staging,
    ...(options.publicRepo !== undefined ? { public: repositoryOption(options.publicRepo, ENV.publicRepo, env).repository } : {}),
    dryRun: envFlag(env, ENV.dryRun) ?? Boolean(options.dryRun),
    auth: {
      server: env[ENV.server] || registry.server || staging.registry,
      ...(username ? { username } : {}),
      ...(passwordFile ? { passwordFile } : {}),
    },
    ...(builder ? { builder } : {}),
    rebuildPeriod: rebuildPeriod(options.rebuildPeriodDays ?? DEFAULT_REBUILD_PERIOD_DAYS, env),
    retry: retryPolicy(env),
    ...(options.about ? { description: describeImage(options.about, options.imageMetadata) } : {}),
    attestations: resolveAttestations(options.attestations),
  };
}

function describeImage(about: NonNullable<SettingsOptions["about"]>, metadata: SettingsOptions["imageMetadata"]): ImageDescription {
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
  const now = env.OBI_NOW ? Date.parse(env.OBI_NOW) : Date.now();
  if (Number.isNaN(now)) throw new Error(`OBI_NOW is not a date: ${env.OBI_NOW}`);
  let revision = env.OBI_REVISION || undefined;
  if (!revision) {
    try {
      revision = execFileSync("git", ["rev-parse", "--verify", "HEAD"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() || undefined;
    } catch {
      revision = undefined;
    }
  }
  return { created: new Date(now).toISOString(), ...(revision ? { revision } : {}) };
}
