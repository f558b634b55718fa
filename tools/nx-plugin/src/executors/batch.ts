/**
 * Runs a batch of tasks in one process, in dependency order and a few at a
 * time, reporting each as it finishes. Nx hands a batch executor every task of
 * a run that uses it; starting one process per build would cost more than
 * many of the builds themselves.
 */
import type { ExecutorContext, TaskGraph } from "@nx/devkit";
import { batchParallelism } from "../settings";
import { Scheduler, type ScheduledTask } from "./schedule";

export interface TaskOutcome {
  readonly success: boolean;
  readonly terminalOutput: string;
  readonly startTime?: number;
  readonly endTime?: number;
  readonly status?: "success" | "failure" | "skipped";
}

/**
 * Where a task's lines go. `say`: what the task did and decided, one line each —
 * its terminal output, which Nx prints once and keeps in its cache. `progress`:
 * what a running command prints (BuildKit's steps), shown live as it comes and
 * not kept, so a build of hours is never silent and no line is printed twice.
 */
export interface TaskLog {
  say(line: string): void;
  progress(line: string): void;
  /** Facts about how the task ran, for its run record (the status page): not printed. */
  note(facts: RunFacts): void;
}

/** What a build says about how it ran: whether the registry already had it, on which builder, and how often a registry step was retried. */
export interface RunFacts {
  readonly reused?: boolean;
  readonly builder?: string;
  readonly retries?: number;
  /** A real build only: whether its builder answered (false: the build failed because it did not). */
  readonly builderReachable?: boolean;
}

/** In a task of its own, Nx captures the process's output: both kinds of line go there once. */
const processLog: TaskLog = {
  say: (line) => process.stdout.write(`${line}\n`),
  progress: (line) => process.stdout.write(`${line}\n`),
  note: () => {},
};

/** Where a task runs in a batch: its queue (builder), that queue's slots, and how long it is expected to take. */
export interface Placement {
  readonly queue: string;
  readonly slots: number;
  readonly estimate: number;
}

/** Tasks without a builder share one queue of the batch's parallelism (OBI_PARALLEL). */
const oneQueue = (): Placement => ({ queue: "batch", slots: batchParallelism(), estimate: 1 });

export async function* runInOrder<O>(
  taskGraph: TaskGraph,
  inputs: Record<string, O>,
  run: (options: O, log: TaskLog) => Promise<boolean>,
  place: (options: O) => Placement = oneQueue,
): AsyncIterableIterator<{ task: string; result: TaskOutcome }> {
  const ids = Object.keys(taskGraph.tasks);
  let scheduler: Scheduler;
  const slots = new Map<string, number>();
  try {
    const tasks = ids.map((id): ScheduledTask => {
      const placement = place(inputs[id] as O);
      slots.set(placement.queue, Math.max(slots.get(placement.queue) ?? 1, placement.slots));
      const dependsOn = (taskGraph.dependencies[id] ?? []).map((edge) => edge.id);
      return { id, queue: placement.queue, dependsOn, estimate: placement.estimate };
    });
    scheduler = new Scheduler(tasks, (queue) => slots.get(queue) ?? 1);
  } catch (e) {
    // A bad OBI_PARALLEL fails every task of the batch with the one line that says why.
    for (const id of ids) yield { task: id, result: { success: false, status: "failure", terminalOutput: `${(e as Error).message}\n` } };
    return;
  }
  const running = new Map<string, Promise<{ task: string; result: TaskOutcome }>>();

  const start = (id: string) => {
    // A batch's output is one stream for many tasks: Nx prints each task's `say`
    // lines under its name when it finishes; progress goes out live, prefixed by its caller.
    const said: string[] = [];
    const log: TaskLog = { say: (line) => said.push(line), progress: processLog.progress, note: processLog.note };
    const startTime = Date.now();
    const promise = run(inputs[id] as O, log)
      .catch((e: unknown) => {
        log.say(`${id} failed: ${(e as Error).message}`);
        return false;
      })
      .then((success) => ({
        task: id,
        result: { success, terminalOutput: said.map((line) => `${line}\n`).join(""), startTime, endTime: Date.now(), status: success ? ("success" as const) : ("failure" as const) },
      }));
    running.set(id, promise);
  };

  while (!scheduler.done) {
    const step = scheduler.next();
    for (const { id, failed } of step.skip) {
      yield { task: id, result: { success: false, status: "skipped", terminalOutput: `${id} did not run: ${failed.join(", ")} failed\n` } };
    }
    for (const id of step.start) start(id);
    if (running.size === 0) {
      if (scheduler.done) break;
      throw new Error("the batch scheduler has tasks left but none it can start");
    }
    const done = await Promise.race(running.values());
    running.delete(done.task);
    scheduler.finished(done.task, done.result.success);
    yield done;
  }
}

/** A task's work: given its options and the workspace root, report through `log`, say whether it succeeded. */
export type TaskWork<O> = (options: O, root: string, log: TaskLog) => Promise<boolean>;

/** The two ways Nx runs an executor, over the same work: one task per process, or a batch. */
export function executorOf<O>(work: TaskWork<O>, place?: (options: O) => Placement) {
  return {
    single: async (options: O, context: ExecutorContext): Promise<{ success: boolean }> => ({
      success: await work(options, context.root, processLog),
    }),
    batch: (taskGraph: TaskGraph, inputs: Record<string, O>, _overrides: unknown, context: ExecutorContext) =>
      runInOrder(taskGraph, inputs, (options, log) => work(options, context.root, log), place),
  };
}
