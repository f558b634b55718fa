/**
 * Run records: what a build or publish task is doing or last did, beside its
 * build or publish record under dist/images/<image>/, for the status page.
 * A batch marks its tasks queued; each task marks itself running, then
 * succeeded or failed (with the last lines it printed); a task whose
 * dependency failed is marked skipped. Records are written whole, hold only
 * what the task printed (which never holds a secret), and are not task
 * outputs, so the Nx cache never replays them.
 */
import type { ExecutorContext, TaskGraph } from "@nx/devkit";
import { hostname } from "node:os";
import { join } from "node:path";
import { currentOwner } from "../../../../libs/docker/src";
import { LOG_TAIL_LINES, RECORD_FILES, type RunOwner, type RunRecord, type StoredBuildRecord, type StoredPublishRecord } from "../../../../libs/status/src";
import { executorOf, type Placement, type RunFacts, type TaskLog, type TaskOutcome, type TaskWork } from "./batch";
import { imageDir, writeWhole, type BuildRecord, type PublishRecord } from "./shared";

// The status reads what the executors write: a change to either record type that the other
// does not follow fails the type check here.
type Assignable<To, From extends To> = From;
export type CheckedRecords = [Assignable<StoredBuildRecord, BuildRecord>, Assignable<StoredPublishRecord, PublishRecord>];

/** The task a build's or publish's options describe: builds name an arch. */
interface TaskIdentity {
  readonly image: string;
  readonly arch?: string;
}

const runFile = (root: string, options: TaskIdentity): string =>
  join(imageDir(root, options.image), options.arch === undefined ? RECORD_FILES.publishRun : RECORD_FILES.buildRun(options.arch));

const taskName = (options: TaskIdentity): string =>
  `${options.image}:${options.arch === undefined ? "publish" : `build-${options.arch}`}`;

/** This process, as a queued or running record names it: the status calls the task interrupted once it is gone. */
export const thisRunner = (): RunOwner => ({ host: hostname(), ...currentOwner() });

export function writeRunRecord(root: string, options: TaskIdentity, record: RunRecord): void {
  writeWhole(runFile(root, options), JSON.stringify(record, null, 2) + "\n");
}

// BuildKit's progress can carry terminal colour codes.
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;
const MAX_LINE = 500;

/** The last lines of a task's output, as the failure record keeps them. */
export function logTail(lines: readonly string[]): string[] {
  return lines
    .slice(-LOG_TAIL_LINES)
    .map((line) => line.replace(ANSI, ""))
    .map((line) => (line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line));
}

/** The work, recording when it starts and how it ends. */
export function tracked<O extends TaskIdentity>(work: TaskWork<O>): TaskWork<O> {
  return async (options, root, log) => {
    const startedAt = new Date().toISOString();
    const task = taskName(options);
    writeRunRecord(root, options, { state: "running", task, at: startedAt, runner: thisRunner() });
    // Every line the task printed, its own and its commands', is a candidate for the failure's tail.
    const lines: string[] = [];
    const keep = (line: string) => {
      lines.push(line);
      if (lines.length > LOG_TAIL_LINES * 4) lines.splice(0, lines.length - LOG_TAIL_LINES);
    };
    let facts: RunFacts = {};
    const recording: TaskLog = {
      say: (line) => (keep(line), log.say(line)),
      progress: (line) => (keep(line), log.progress(line)),
      note: (more) => (facts = { ...facts, ...more }),
    };
    let ok = false;
    try {
      ok = await work(options, root, recording);
      return ok;
    } catch (e) {
      recording.say(`${task} failed: ${(e as Error).message}`);
      throw e;
    } finally {
      const at = new Date().toISOString();
      if (ok) writeRunRecord(root, options, { state: "succeeded", task, startedAt, at, ...facts });
      else {
        const message = [...lines].reverse().find((l) => / failed/.test(l)) ?? lines.at(-1) ?? `${task} failed`;
        writeRunRecord(root, options, { state: "failed", task, startedAt, at, message: logTail([message])[0] ?? "", logTail: logTail(lines) });
      }
    }
  };
}

/**
 * executorOf, recording: the batch marks every task queued before the first
 * starts, and a task skipped for a failed dependency as skipped.
 */
export function trackedExecutorOf<O extends TaskIdentity>(work: TaskWork<O>, place?: (options: O) => Placement) {
  const executor = executorOf(tracked(work), place);
  return {
    single: executor.single,
    batch: (taskGraph: TaskGraph, inputs: Record<string, O>, overrides: unknown, context: ExecutorContext) => {
      const at = new Date().toISOString();
      for (const options of Object.values(inputs)) writeRunRecord(context.root, options, { state: "queued", task: taskName(options), at, runner: thisRunner() });
      return recordSkips(context.root, inputs, executor.batch(taskGraph, inputs, overrides, context));
    },
  };
}

async function* recordSkips<O extends TaskIdentity>(
  root: string,
  inputs: Record<string, O>,
  results: AsyncIterableIterator<{ task: string; result: TaskOutcome }>,
): AsyncIterableIterator<{ task: string; result: TaskOutcome }> {
  for await (const done of results) {
    const options = inputs[done.task];
    if (options && done.result.status === "skipped") {
      writeRunRecord(root, options, { state: "skipped", task: taskName(options), at: new Date().toISOString(), reason: done.result.terminalOutput });
    }
    yield done;
  }
}
