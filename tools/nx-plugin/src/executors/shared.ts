/**
 * What the executors share: how the files of dist/ are read (checked against
 * libs/records' schemas) and written (whole or not at all), and how a task gets
 * its runner, registry client and docker config.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { z } from "zod";
import {
  dockerConfigKey,
  realRunner,
  RegistryClient,
  scopedCredentials,
  temporaryDockerConfig,
  type Runner,
  type StepRetry,
} from "../../../../libs/docker/src";
import { buildRecordSchema, DIST_LAYOUT, parseRecord, REDO, type BuildRecord, type RecordMode } from "../../../../libs/records/src";
import type { Settings } from "../settings";

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
export function writeWhole(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/**
 * Reads a file of dist/ (a path relative to the workspace) and checks it against
 * its schema; a missing or damaged file is refused in one line with the command
 * that writes it again.
 */
export function readRecord<T>(root: string, file: string, schema: z.ZodType<T>, redo: string): T {
  return parseRecord(schema, readText(root, file, redo), file, redo);
}

/** A text file of dist/ (a rendered Dockerfile), or one line saying which command writes it. */
export function readText(root: string, file: string, redo: string): string {
  try {
    return readFileSync(join(root, file), "utf8");
  } catch (e) {
    throw new Error(`${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); write it: ${redo}`);
  }
}

/** Reads the record of a build another depends on, of this run's mode: a real run never takes a dry run's record. */
export function readBuildRecord(root: string, mode: RecordMode, image: string, arch: string): BuildRecord {
  const file = DIST_LAYOUT.buildRecord(mode, image, arch);
  const record = readRecord(root, file, buildRecordSchema, REDO.build(mode, image, arch));
  if (record.dryRun !== (mode === "dry")) {
    throw new Error(`${file}: dryRun: a ${record.dryRun ? "dry run's" : "real build's"} record where a ${mode === "dry" ? "dry run's" : "real build's"} belongs (found ${record.dryRun}); write it again: ${REDO.build(mode, image, arch)}`);
  }
  return record;
}

/** Writes a record (a path relative to the workspace) whole, as JSON. */
export function writeRecord(root: string, file: string, record: unknown): void {
  writeWhole(join(root, file), JSON.stringify(record, null, 2) + "\n");
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
    runner: realRunner(settings.commands),
    registry: new RegistryClient({ credentials: credentials.forRegistry, retry: settings.retry, onRetry: sayRetry }),
    dockerEnv: dockerConfig?.env ?? {},
    retry: { policy: settings.retry, onRetry: sayRetry },
    close: () => dockerConfig?.dispose(),
  };
}

export const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
