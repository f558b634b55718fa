/**
 * What the executors share: where outputs go, how they are written (whole or
 * not at all), and how a task gets its runner, registry client and docker config.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  parseReference,
  readCredentials,
  realRunner,
  RegistryClient,
  storedCredentials,
  temporaryDockerConfig,
  type CredentialSource,
  type Credentials,
  type Runner,
} from "../../../../libs/docker/src";
import type { Repositories } from "../../../../libs/tags/src";
import { buildRecordFile, ENV, OUTPUT_DIR } from "../config";

export type RenderedContext =
  | {
      readonly kind: "opam-repository";
      readonly url: string;
      readonly commit: string;
      /** The base image; with a digest, the build is pinned to it whatever the tag says now. */
      readonly base?: { readonly image: string; readonly tag: string; readonly digest?: string };
    }
  | { readonly kind: "dockerfile-only" };

/** The public tags of an image and the builds each joins, as its render writes them for its publish. */
export interface RenderedManifests {
  readonly manifests: readonly { readonly name: string; readonly sources: readonly { readonly image: string; readonly arch: string }[] }[];
}

/** What a build made: its children and its publish read this, so it holds nothing about how the build ran. */
export interface BuildRecord {
  readonly image: string;
  readonly arch: string;
  readonly platform: string;
  readonly stagingTag: string;
  /** The pushed manifest's digest; null in a dry run. */
  readonly digest: string | null;
  /** The id of everything that determines the build; the staging repo also holds the image under it. */
  readonly buildId: string;
  readonly dryRun: boolean;
}


export interface PublishRecord {
  readonly image: string;
  readonly manifests: readonly {
    readonly tag: string;
    readonly sources: readonly string[];
    readonly changed: boolean;
    /** The manifest list's digest; null in a dry run. */
    readonly digest: string | null;
  }[];
  readonly dryRun: boolean;
}

export const imageDir = (root: string, image: string): string => join(root, OUTPUT_DIR, image);
export const renderDir = (root: string, image: string): string => join(imageDir(root, image), "render");
export const manifestsPath = (root: string, image: string): string => join(renderDir(root, image), "manifests.json");
export const buildRecordPath = (root: string, image: string, arch: string): string => join(imageDir(root, image), buildRecordFile(arch));

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
export function writeWhole(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function readJson<T>(path: string, what: string): T {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch (e) {
    throw new Error(`cannot read ${what} (${path}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export interface RegistrySettings extends CredentialSource {}

export interface TaskSettings {
  readonly stagingRepo: string;
  readonly publicRepo?: string;
  readonly registry?: RegistrySettings;
  readonly dryRun?: boolean;
}

/**
 * A yes/no from the environment: unset or empty is "not said"; anything but
 * 1/true/0/false is refused, so a typo never turns a dry run into a real one.
 */
export function envFlag(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const value = env[name];
  if (value === undefined || value === "") return undefined;
  if (value === "1" || value === "true") return true;
  if (value === "0" || value === "false") return false;
  throw new Error(`${name}: "${value}" is not a boolean; use 1, true, 0 or false`);
}

/** The repositories after the environment's overrides: all that rendering needs. */
export function resolveRepositories(options: { readonly stagingRepo: string; readonly publicRepo: string }, env = process.env): Repositories {
  return { staging: env[ENV.stagingRepo] || options.stagingRepo, public: env[ENV.publicRepo] || options.publicRepo };
}

/** Options after the environment's overrides (OBI_*), which are also the tasks' env inputs. */
export function resolveSettings<T extends TaskSettings>(options: T, env = process.env): T & { readonly dryRun: boolean } {
  const registry = options.registry ?? {};
  return {
    ...options,
    stagingRepo: env[ENV.stagingRepo] || options.stagingRepo,
    ...(options.publicRepo !== undefined ? { publicRepo: env[ENV.publicRepo] || options.publicRepo } : {}),
    registry: {
      ...registry,
      ...(env[ENV.server] ? { server: env[ENV.server] } : {}),
      ...(env[ENV.username] ? { username: env[ENV.username] } : {}),
      ...(env[ENV.passwordFile] ? { passwordFile: env[ENV.passwordFile] } : {}),
    },
    dryRun: envFlag(env, ENV.dryRun) ?? Boolean(options.dryRun),
  };
}

/** The key docker's config uses for a registry. */
const configKey = (registry: string): string => (registry === "registry-1.docker.io" ? "https://index.docker.io/v1/" : registry);

/** What a real build or publish talks to docker and the registry through; a dry run opens none. */
export interface Session {
  readonly runner: Runner;
  readonly registry: RegistryClient;
  /** Environment for docker commands (a private DOCKER_CONFIG when a password file is used). */
  readonly dockerEnv: Readonly<Record<string, string>>;
  close(): void;
}

/** Everything a real build or publish task needs to talk to docker and the registry, with its secrets contained. */
export function openSession(settings: TaskSettings): Session {
  const server = settings.registry?.server ?? parseReference(`${settings.stagingRepo}:x`).registry;
  const fromFile: Credentials | undefined = readCredentials(settings.registry ?? {});
  const dockerConfig = fromFile ? temporaryDockerConfig(configKey(server), fromFile) : undefined;
  const credentials = (registry: string) =>
    registry === server ? (fromFile ?? storedCredentials(configKey(registry))) : storedCredentials(configKey(registry));
  return {
    runner: realRunner(),
    registry: new RegistryClient({ credentials }),
    dockerEnv: dockerConfig?.env ?? {},
    close: () => dockerConfig?.dispose(),
  };
}

export const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
