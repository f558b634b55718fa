/**
 * The pipeline service's own record (tools/service/pipeline.ts): the run of a
 * rebuild period that is going on or last ended, at dist/service/run.json.
 * The status server reads it for /metrics (last success, last outcome).
 */
import { z } from "zod";

const isoTime = z.iso.datetime();

/** Where the service's run record lives, relative to the workspace. */
export const SERVICE_RUN_FILE = "dist/service/run.json";

const counts = z.object({ succeeded: z.number().int().min(0), failed: z.number().int().min(0) });

export const serviceRunSchema = z.discriminatedUnion("state", [
  z.object({ state: z.literal("running"), startedAt: isoTime, commit: z.string(), period: z.string(), lastSuccessAt: isoTime.nullable() }),
  z.object({
    state: z.literal("succeeded"),
    startedAt: isoTime,
    at: isoTime,
    commit: z.string(),
    period: z.string(),
    counts,
  }),
  z.object({
    state: z.literal("failed"),
    startedAt: isoTime,
    at: isoTime,
    commit: z.string(),
    period: z.string(),
    counts,
    /** When a run last succeeded, kept across failures (null: never). */
    lastSuccessAt: isoTime.nullable(),
  }),
]);
export type ServiceRun = z.output<typeof serviceRunSchema>;

/** When a run last succeeded, as the record says. */
export const lastSuccessOf = (run: ServiceRun): string | null => (run.state === "succeeded" ? run.at : run.lastSuccessAt);
