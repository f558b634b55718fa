/**
 * Every file a task writes under dist/, as a zod schema: the render's
 * context.json and manifests.json, the build and publish records, and the run
 * records. The TypeScript types are inferred from them; writers build values
 * of these types and readers parse with them, so a damaged or hand-edited
 * file is refused in one line naming the file, the field, the bad value and
 * the command that writes it again.
 */
import { z } from "zod";

/** A content digest as the registry gives it; nothing else goes in a digest field. */
export const digestSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/, { message: "not a sha256 digest" });
/** A build id: the sha256 of everything that determines the build (build-id.ts). */
const buildIdSchema = z.string().regex(/^[0-9a-f]{64}$/, { message: "not a build id (64 hex digits)" });
const isoTime = z.iso.datetime();

/** context.json: what an image's build context is, the same for each of its arches. */
export const renderedContextSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("opam-repository"),
    url: z.string(),
    commit: z.string(),
    /** The base image; with a digest, the build is pinned to it whatever the tag says now. */
    base: z.strictObject({ image: z.string(), tag: z.string(), digest: digestSchema.optional() }).optional(),
  }),
  z.strictObject({
    kind: z.literal("dockerfile-only"),
    /** The base image a deprecation image starts FROM, pinned like an opam image's; absent for images FROM another build. */
    base: z.strictObject({ image: z.string(), tag: z.string(), digest: digestSchema.optional() }).optional(),
  }),
]);
export type RenderedContext = z.output<typeof renderedContextSchema>;

/** manifests.json: the public tags of an image and the builds each joins, for its publish. */
export const renderedManifestsSchema = z.strictObject({
  manifests: z.array(
    z.strictObject({
      name: z.string(),
      /** osVersion: a Windows build's version from the plan, for a list entry whose image's config has none. */
      sources: z.array(z.strictObject({ image: z.string(), arch: z.string(), osVersion: z.string().optional() })).readonly(),
    }),
  ).readonly(),
});
export type RenderedManifests = z.output<typeof renderedManifestsSchema>;

const buildFields = {
  image: z.string(),
  arch: z.string(),
  platform: z.string(),
  /** The staging repository the build was made for; the status counts it only there. */
  stagingRepo: z.string(),
  stagingTag: z.string(),
  /** The id of everything that determines the build; the staging repository also holds the image under `build-<id>`. */
  buildId: buildIdSchema,
};

/**
 * What a build made (build-<arch>.json): its children and its publish read it, so
 * it holds nothing about how the build ran. A real build has the pushed image's
 * digest; a dry run's record has none and lives apart (layout.ts).
 */
export const realBuildRecordSchema = z.strictObject({ dryRun: z.literal(false), ...buildFields, digest: digestSchema });
export const dryBuildRecordSchema = z.strictObject({ dryRun: z.literal(true), ...buildFields });
export const buildRecordSchema = z.discriminatedUnion("dryRun", [realBuildRecordSchema, dryBuildRecordSchema]);
export type RealBuildRecord = z.output<typeof realBuildRecordSchema>;
export type DryBuildRecord = z.output<typeof dryBuildRecordSchema>;
export type BuildRecord = z.output<typeof buildRecordSchema>;

/** What a publish wrote (publish.json): each public tag and the images it lists. */
export const realPublishRecordSchema = z.strictObject({
  dryRun: z.literal(false),
  image: z.string(),
  /** The public repository the tags were pushed to; the status counts them only there. */
  publicRepo: z.string(),
  manifests: z.array(
    z.strictObject({
      tag: z.string(),
      /** Each image it lists, by digest (`<staging repository>@sha256:…`). */
      sources: z.array(z.string().regex(/@sha256:[0-9a-f]{64}$/, { message: "not an image by digest" })).readonly(),
      changed: z.boolean(),
      /** The manifest list's own digest. */
      digest: digestSchema,
    }),
  ).readonly(),
});
/** A dry publish's record: what it would push, each image named by its build-id tag. */
export const dryPublishRecordSchema = z.strictObject({
  dryRun: z.literal(true),
  image: z.string(),
  publicRepo: z.string(),
  manifests: z.array(z.strictObject({ tag: z.string(), sources: z.array(z.string()).readonly() })).readonly(),
});
export const publishRecordSchema = z.discriminatedUnion("dryRun", [realPublishRecordSchema, dryPublishRecordSchema]);
export type RealPublishRecord = z.output<typeof realPublishRecordSchema>;
export type DryPublishRecord = z.output<typeof dryPublishRecordSchema>;
export type PublishRecord = z.output<typeof publishRecordSchema>;

/** The last lines a failing task printed, kept in its failure record. */
export const LOG_TAIL_LINES = 40;

/**
 * Run records (build-<arch>.run.json, publish.run.json): what a task is doing
 * or last did. `queued`: a batch took it and it waits for its turn; `running`:
 * started; `failed`: ended badly, with the last lines it printed; `skipped`: a
 * task it needs failed; `succeeded`: ended well (its build or publish record
 * says what it made). Each state is an object of its own, so a state can gain
 * fields (who runs it, say) without touching the others.
 */
/**
 * Who runs a queued or running task: the host, and the process by its pid and the
 * kernel's start time of that pid (so a reused pid is not taken for it). When that
 * process is gone, the task was interrupted (SIGKILL, a crash), whatever the record says.
 */
export const runOwnerSchema = z.object({ host: z.string(), pid: z.number().int(), started: z.string() });
export type RunOwner = z.output<typeof runOwnerSchema>;

const runStates = {
  // runner: absent in records written before it was kept.
  queued: z.object({ state: z.literal("queued"), task: z.string(), at: isoTime, runner: runOwnerSchema.optional() }),
  running: z.object({ state: z.literal("running"), task: z.string(), at: isoTime, runner: runOwnerSchema.optional() }),
  succeeded: z.object({
    state: z.literal("succeeded"),
    task: z.string(),
    startedAt: isoTime,
    at: isoTime,
    /** A build only: the registry already held its build id, so nothing was built. */
    reused: z.boolean().optional(),
    /** A build only: the builder it ran on. */
    builder: z.string().optional(),
    /** How many registry steps were retried (absent: none). */
    retries: z.number().int().min(0).optional(),
    /** A real build only: its builder answered. */
    builderReachable: z.boolean().optional(),
  }),
  failed: z.object({
    state: z.literal("failed"),
    task: z.string(),
    startedAt: isoTime,
    at: isoTime,
    message: z.string(),
    logTail: z.array(z.string()).max(LOG_TAIL_LINES),
    retries: z.number().int().min(0).optional(),
    /** A build only: the builder it was to run on, and whether it answered (false: it failed because it did not). */
    builder: z.string().optional(),
    builderReachable: z.boolean().optional(),
  }),
  skipped: z.object({ state: z.literal("skipped"), task: z.string(), at: isoTime, reason: z.string() }),
};
export const RUN_STATE_SCHEMAS = runStates;
export const runRecordSchema = z.discriminatedUnion("state", [runStates.queued, runStates.running, runStates.succeeded, runStates.failed, runStates.skipped]);
export type RunRecord = z.output<typeof runRecordSchema>;

/**
 * Parses one file of dist/, or throws one line: the file, the field, what is
 * wrong with it, the value found, and the command that writes the file again.
 */
export function parseRecord<T>(schema: z.ZodType<T>, text: string, file: string, redo: string): T {
  const refuse = (what: string): never => {
    throw new Error(`${file}: ${what.replace(/\s*\n\s*/g, " ")}; write it again: ${redo}`);
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return refuse(`not JSON: ${(e as Error).message}`);
  }
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  // A field this record does not have is named as the field, not as its parent.
  const where = [...(issue?.path ?? []), ...(issue?.code === "unrecognized_keys" ? issue.keys.slice(0, 1) : [])];
  const path = where.map(String).join(".") || "(top level)";
  let value: unknown = json;
  for (const key of where) value = (value as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey];
  const found = JSON.stringify(value) ?? "nothing";
  const message = issue?.code === "unrecognized_keys" ? "not a field of this record" : (issue?.message ?? "invalid");
  return refuse(`${path}: ${message} (found ${found.length > 200 ? `${found.slice(0, 200)}…` : found})`);
}
