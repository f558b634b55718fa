/**
 * What the executors share: where outputs go, how they are written (whole or
 * not at all), and how a task gets its runner, registry client and docker config.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  dryRunner,
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
import { ENV, OUTPUT_DIR } from "../config";

export type RenderedContext =
  | {
      readonly kind: "opam-repository";
      readonly url: string;
      readonly commit: string;
      /** The base image; with a digest, the build is pinned to it whatever the tag says now. */
      readonly base?: { readonly image: string; readonly tag: string; readonly digest?: string };
    }
  | { readonly kind: "dockerfile-only" };

export interface BuildRecord {
  readonly image: string;
  readonly arch: string;
  readonly platform: string;
  readonly stagingTag: string;
  /** The pushed manifest's digest; null in a dry run. */
  readonly digest: string | null;
  /** The id of everything that determines the build; the staging repo also holds the image under it. */
  readonly buildId: string;
  /** True when the registry already held this build and nothing was built. */
  readonly reused: boolean;
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
export const buildRecordPath = (root: string, image: string, arch: string): string => join(imageDir(root, image), `build-${arch}.json`);

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

/** Options after the environment's overrides (OBI_*), which are also the tasks' env inputs. */
export function resolveSettings<T extends TaskSettings>(options: T, env = process.env): T {
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
    dryRun: env[ENV.dryRun] ? env[ENV.dryRun] === "true" || env[ENV.dryRun] === "1" : Boolean(options.dryRun),
  };
}

/** The key docker's config uses for a registry. */
const configKey = (registry: string): string => (registry === "registry-1.docker.io" ? "https://index.docker.io/v1/" : registry);

export interface Session {
  readonly runner: Runner;
  readonly registry: RegistryClient;
  /** Environment for docker commands (a private DOCKER_CONFIG when a password file is used). */
  readonly dockerEnv: Readonly<Record<string, string>>;
  readonly log: (line: string) => void;
  close(): void;
}

/** Everything a build or publish task needs to talk to docker and the registry, with its secrets contained. */
export function openSession(settings: TaskSettings, log: (line: string) => void): Session {
  const server = settings.registry?.server ?? parseReference(`${settings.stagingRepo}:x`).registry;
  const fromFile: Credentials | undefined = readCredentials(settings.registry ?? {});
  const dockerConfig = fromFile ? temporaryDockerConfig(configKey(server), fromFile) : undefined;
  const credentials = (registry: string) =>
    registry === server ? (fromFile ?? storedCredentials(configKey(registry))) : storedCredentials(configKey(registry));
  return {
    runner: settings.dryRun ? dryRunner(log) : realRunner(),
    registry: new RegistryClient({ credentials }),
    dockerEnv: dockerConfig?.env ?? {},
    log,
    close: () => dockerConfig?.dispose(),
  };
}

export const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
