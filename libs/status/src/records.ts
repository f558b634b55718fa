/**
 * The records that runs leave under dist/images/<image>/, as the status reads
 * them: the build record (build-<arch>.json), the publish record
 * (publish.json) and the run records (build-<arch>.run.json, publish.run.json)
 * that say a task is queued, running, failed or skipped. One schema each, so
 * a damaged file is reported by name and field instead of shown wrong.
 */
import { z } from "zod";

const isoTime = z.iso.datetime();

export const buildRecordSchema = z.object({
  image: z.string(),
  arch: z.string(),
  platform: z.string(),
  stagingTag: z.string(),
  digest: z.string().nullable(),
  buildId: z.string(),
  dryRun: z.boolean(),
});
export type StoredBuildRecord = z.output<typeof buildRecordSchema>;

export const publishRecordSchema = z.object({
  image: z.string(),
  manifests: z.array(
    z.object({
      tag: z.string(),
      sources: z.array(z.string()).readonly(),
      changed: z.boolean(),
      /** The manifest list's own digest; records written before it was kept lack it. */
      digest: z.string().nullable().optional(),
    }),
  ).readonly(),
  dryRun: z.boolean(),
});
export type StoredPublishRecord = z.output<typeof publishRecordSchema>;

/** The last lines a failing task printed, kept in its failure record. */
export const LOG_TAIL_LINES = 40;

/**
 * Who runs a queued or running task: the host, and the process by its pid and the
 * kernel's start time of that pid (so a reused pid is not taken for it). When that
 * process is gone, the task was interrupted (SIGKILL, a crash), whatever the record says.
 */
export const runOwnerSchema = z.object({ host: z.string(), pid: z.number().int(), started: z.string() });
export type RunOwner = z.output<typeof runOwnerSchema>;

/**
 * What a task is doing or last did. `queued`: a batch took it and it waits
 * for its turn; `running`: started; `failed`: ended badly, with the last
 * lines it printed; `skipped`: a task it needs failed; `succeeded`: ended
 * well (its build or publish record says what it made).
 */
export const runRecordSchema = z.discriminatedUnion("state", [
  // runner: absent in records written before it was kept.
  z.object({ state: z.literal("queued"), task: z.string(), at: isoTime, runner: runOwnerSchema.optional() }),
  z.object({ state: z.literal("running"), task: z.string(), at: isoTime, runner: runOwnerSchema.optional() }),
  z.object({
    state: z.literal("succeeded"),
    task: z.string(),
    startedAt: isoTime,
    at: isoTime,
    /** A build only: the registry already held its build id, so nothing was built. */
    reused: z.boolean().optional(),
    /** A build only: the builder it ran on. */
    builder: z.string().optional(),
  }),
  z.object({
    state: z.literal("failed"),
    task: z.string(),
    startedAt: isoTime,
    at: isoTime,
    message: z.string(),
    logTail: z.array(z.string()).max(LOG_TAIL_LINES),
  }),
  z.object({ state: z.literal("skipped"), task: z.string(), at: isoTime, reason: z.string() }),
]);
export type RunRecord = z.output<typeof runRecordSchema>;

/** Where each record lives, relative to the image's folder under dist/images/. */
export const RECORD_FILES = {
  build: (arch: string) => `build-${arch}.json`,
  buildRun: (arch: string) => `build-${arch}.run.json`,
  publish: "publish.json",
  publishRun: "publish.run.json",
} as const;

/** A record with the time its file was last written (the build record itself holds none). */
export interface Dated<T> {
  readonly record: T;
  readonly at: string;
}

/** Everything read from dist/ for one image; absent files are undefined. */
export interface ImageRecords {
  readonly builds: ReadonlyMap<string, Dated<StoredBuildRecord>>;
  readonly buildRuns: ReadonlyMap<string, RunRecord>;
  readonly publish?: Dated<StoredPublishRecord>;
  readonly publishRun?: RunRecord;
}

/** Parses one record, or throws one line naming the file, the field and the bad value. */
export function parseRecord<T>(schema: z.ZodType<T>, text: string, file: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not JSON: ${(e as Error).message}`);
  }
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.map(String).join(".") || "(top)";
  let value: unknown = json;
  for (const key of issue?.path ?? []) value = (value as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey];
  throw new Error(`${file}: ${path}: ${issue?.message ?? "invalid"} (found ${JSON.stringify(value) ?? "nothing"})`);
}
