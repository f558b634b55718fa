/**
 * Run records: what a build or publish task is doing or last did, beside its
 * build or publish record (dist/images/<image>/, a dry run's dist/dry-run/<image>/),
 * for the status page.
 * A batch marks its tasks queued; each task marks itself running, then
 * succeeded or failed (with the last lines it printed); a task whose
 * dependency failed is marked skipped. Records are written whole, hold only
 * what the task printed (which never holds a secret), and are not task
 * outputs, so the Nx cache never replays them.
 */
import type { ExecutorContext, TaskGraph } from "@nx/devkit";
import { hostname } from "node:os";
import { currentOwner } from "../../../../libs/docker/src";
import { DIST_LAYOUT, LOG_TAIL_LINES, type RecordMode, type RunOwner, type RunRecord } from "../../../../libs/records/src";
import { executorOf, type Placement, type RunFacts, type TaskLog, type TaskOutcome, type TaskWork } from "./batch";
import { writeRecord } from "./shared";

/** The task a build's or publish's options describe: builds name an arch; a dry run's records go apart. */
interface TaskIdentity {
  readonly image: string;
  readonly arch?: string;
  readonly dryRun?: boolean;
}

const modeOf = (options: TaskIdentity): RecordMode => (options.dryRun === true ? "dry" : "real");

const runFile = (options: TaskIdentity): string =>
  options.arch === undefined ? DIST_LAYOUT.publishRun(modeOf(options), options.image) : DIST_LAYOUT.buildRun(modeOf(options), options.image, options.arch);

const taskName = (options: TaskIdentity): string =>
  `${options.image}:${options.arch === undefined ? "publish" : `build-${options.arch}`}`;

/** This process, as a queued or running record names it: the status calls the task interrupted once it is gone. */
export const thisRunner = (): RunOwner => ({ host: hostname(), ...currentOwner() });

export function writeRunRecord(root: string, options: TaskIdentity, record: RunRecord): void {
  writeRecord(root, runFile(options), record);
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
        writeRunRecord(root, options, {
          state: "failed",
          task,
          startedAt,
          at,
          message: logTail([message])[0] ?? "",
          logTail: logTail(lines),
          ...(facts.retries !== undefined ? { retries: facts.retries } : {}),
          ...(facts.builder !== undefined ? { builder: facts.builder } : {}),
          ...(facts.builderReachable !== undefined ? { builderReachable: facts.builderReachable } : {}),
        });
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
