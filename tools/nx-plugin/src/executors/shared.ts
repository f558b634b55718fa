/**
 * What the executors share: where outputs go, how they are written (whole or
 * not at all), and how a task gets its runner, registry client and docker config.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  dockerConfigKey,
  realRunner,
  RegistryClient,
  scopedCredentials,
  temporaryDockerConfig,
  type Runner,
  type StepRetry,
} from "../../../../libs/docker/src";
import { buildRecordFile, OUTPUT_DIR } from "../config";
import type { Settings } from "../settings";

export type RenderedContext =
  | {
      readonly kind: "opam-repository";
      readonly url: string;
      readonly commit: string;
      /** The base image; with a digest, the build is pinned to it whatever the tag says now. */
      readonly base?: { readonly image: string; readonly tag: string; readonly digest?: string };
    }
  | {
      readonly kind: "dockerfile-only";
      /** The base image a deprecation image starts FROM, pinned like an opam image's; absent for images FROM another build. */
      readonly base?: { readonly image: string; readonly tag: string; readonly digest?: string };
    };

/** The public tags of an image and the builds each joins, as its render writes them for its publish. */
export interface RenderedManifests {
  readonly manifests: readonly {
    readonly name: string;
    /** osVersion: a Windows build's version from the plan, for a list entry whose image's config has none. */
    readonly sources: readonly { readonly image: string; readonly arch: string; readonly osVersion?: string }[];
  }[];
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

/** What a real build or publish talks to docker and the registry through; a dry run opens none. */
export interface Session {
  readonly runner: Runner;
  readonly registry: RegistryClient;
  /** Environment for docker commands (a private DOCKER_CONFIG when a password file is used). */
  readonly dockerEnv: Readonly<Record<string, string>>;
  /** How docker steps that fail on the registry are run again (the registry client has the same policy). */
  readonly retry: StepRetry;
  close(): void;
}

/**
 * Everything a real build or publish needs to talk to docker and the registry,
 * with its secrets contained: the password file's credentials go only to the
 * registry they are for, by the registry client and by docker alike.
 */
export function openSession(settings: Settings, sayRetry: (line: string) => void): Session {
  const credentials = scopedCredentials(settings.auth);
  const dockerConfig = credentials.fromFile ? temporaryDockerConfig(dockerConfigKey(settings.auth.server), credentials.fromFile) : undefined;
  return {
    runner: realRunner(),
    registry: new RegistryClient({ credentials: credentials.forRegistry, retry: settings.retry, onRetry: sayRetry }),
    dockerEnv: dockerConfig?.env ?? {},
    retry: { policy: settings.retry, onRetry: sayRetry },
    close: () => dockerConfig?.dispose(),
  };
}

export const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
