/**
 * The batch's scheduler, pure: which tasks to start now. Each task belongs to
 * a queue (its builder) with its own slots, so a busy builder never holds up
 * another; within a queue the task with the longest remaining path (its own
 * estimate plus the longest chain of tasks waiting on it) starts first, so an
 * opam image starts before compiler images that could run now, because the
 * compiler images of its own distro wait on it.
 *
 * No clock and no I/O: the batch runner (batch.ts) drives it with real tasks,
 * the scheduling benchmark (tools/bench/schedule.ts) with a simulated clock.
 */

export interface ScheduledTask {
  readonly id: string;
  /** The queue (builder) it runs in. */
  readonly queue: string;
  /** Tasks of the same batch it waits for. */
  readonly dependsOn: readonly string[];
  /** How long it is expected to take, in any unit (only the order of remaining paths matters). */
  readonly estimate: number;
}

/** What to do now: tasks to start, and tasks that will never run because a task they wait for failed. */
export interface Step {
  readonly start: readonly string[];
  readonly skip: readonly { readonly id: string; readonly failed: readonly string[] }[];
}

export type Order = "longest-path" | "as-given";

/** A waiting task's place: its rank in the start order (lower starts first) and what it waits for. */
interface Entry {
  readonly task: ScheduledTask;
  readonly rank: number;
  /** Tasks of this batch it waits for (its own id and tasks outside the batch left out). */
  readonly dependsOn: readonly string[];
  readonly dependents: string[];
  /** How many of `dependsOn` have not yet succeeded. */
  unfinished: number;
  state: "waiting" | "ready" | "started" | "succeeded" | "failed";
}

/**
 * Each step costs what changed since the last, not the size of the batch: a task
 * becomes ready when its last dependency succeeds, and a failure dooms only the
 * tasks downstream of it. (Scanning every waiting task after each finished one
 * cost 2.3 s of a 6,000-build dry-run batch.)
 */
export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  /** Ready tasks per queue, lowest rank first (a binary heap). */
  private readonly ready = new Map<string, Entry[]>();
  private readonly running = new Map<string, number>();
  /** Tasks that may now wait on a failure, to be skipped by the next step. */
  private doomed: Entry[] = [];
  private waitingCount = 0;
  private runningCount = 0;
  /** Remaining path per task: its estimate plus the longest remaining path of a task waiting on it. */
  readonly remaining = new Map<string, number>();

  constructor(
    tasks: readonly ScheduledTask[],
    private readonly slots: (queue: string) => number,
    order: Order = "longest-path",
  ) {
    const ids = new Set(tasks.map((t) => t.id));
    const dependents = new Map<string, string[]>();
    for (const t of tasks) {
      for (const d of t.dependsOn) {
        if (d === t.id || !ids.has(d)) continue;
        const list = dependents.get(d);
        if (list) list.push(t.id);
        else dependents.set(d, [t.id]);
      }
    }
    const byId = new Map(tasks.map((t) => [t.id, t]));
    const path = (id: string, seen: Set<string>): number => {
      const known = this.remaining.get(id);
      if (known !== undefined) return known;
      if (seen.has(id)) throw new Error(`the batch's tasks wait on each other in a cycle through ${id}`);
      seen.add(id);
      let after = 0;
      for (const d of dependents.get(id) ?? []) after = Math.max(after, path(d, seen));
      const value = (byId.get(id)?.estimate ?? 0) + after;
      this.remaining.set(id, value);
      return value;
    };
    for (const id of byId.keys()) path(id, new Set());
    // Stable: equal paths keep the order they were given in.
    const given = [...byId.values()];
    const ordered = order === "as-given" ? given : given.map((t, i) => ({ t, i })).sort((a, b) => (this.remaining.get(b.t.id) ?? 0) - (this.remaining.get(a.t.id) ?? 0) || a.i - b.i).map((x) => x.t);
    ordered.forEach((task, rank) => {
      const dependsOn = [...new Set(task.dependsOn.filter((d) => d !== task.id && ids.has(d)))];
      this.entries.set(task.id, { task, rank, dependsOn, dependents: dependents.get(task.id) ?? [], unfinished: dependsOn.length, state: "waiting" });
    });
    this.waitingCount = this.entries.size;
    for (const entry of this.entries.values()) if (entry.unfinished === 0) this.makeReady(entry);
  }

  /** The tasks to start now and those to give up on; call again after every `finished`. */
  next(): Step {
    // Skipping a task dooms its own dependents in turn.
    const skipped: Entry[] = [];
    for (let i = 0; i < this.doomed.length; i++) {
      const entry = this.doomed[i] as Entry;
      if (entry.state !== "waiting") continue;
      entry.state = "failed";
      this.waitingCount--;
      skipped.push(entry);
      this.doom(entry);
    }
    this.doomed = [];
    // Each names every task it waited on that failed or was skipped, as of the end of this step.
    const skip = skipped.map((entry) => ({ id: entry.task.id, failed: entry.dependsOn.filter((d) => this.entries.get(d)?.state === "failed") }));
    // In rank order across queues, as long as a ready task's queue has a free slot.
    const start: string[] = [];
    for (;;) {
      let best: Entry[] | undefined;
      for (const [queue, heap] of this.ready) {
        const head = heap[0];
        if (!head || (this.running.get(queue) ?? 0) >= Math.max(1, this.slots(queue))) continue;
        if (!best || head.rank < (best[0] as Entry).rank) best = heap;
      }
      if (!best) break;
      const entry = popMin(best);
      entry.state = "started";
      this.running.set(entry.task.queue, (this.running.get(entry.task.queue) ?? 0) + 1);
      this.waitingCount--;
      this.runningCount++;
      start.push(entry.task.id);
    }
    return { start, skip };
  }

  /** A started task ended. */
  finished(id: string, success: boolean): void {
    const entry = this.entries.get(id);
    if (!entry) throw new Error(`no task ${id} in this batch`);
    if (entry.state !== "started") throw new Error(`task ${id} of this batch ended, but it was not started`);
    this.running.set(entry.task.queue, (this.running.get(entry.task.queue) ?? 1) - 1);
    this.runningCount--;
    entry.state = success ? "succeeded" : "failed";
    if (!success) return this.doom(entry);
    for (const d of entry.dependents) {
      const dependent = this.entries.get(d) as Entry;
      if (--dependent.unfinished === 0 && dependent.state === "waiting") this.makeReady(dependent);
    }
  }

  /** Whether anything is left to start or waiting to end. */
  get done(): boolean {
    return this.waitingCount === 0 && this.runningCount === 0;
  }

  private makeReady(entry: Entry): void {
    entry.state = "ready";
    const heap = this.ready.get(entry.task.queue);
    if (heap) pushHeap(heap, entry);
    else this.ready.set(entry.task.queue, [entry]);
  }

  private doom(failed: Entry): void {
    for (const d of failed.dependents) this.doomed.push(this.entries.get(d) as Entry);
  }
}

function pushHeap(heap: Entry[], entry: Entry): void {
  heap.push(entry);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if ((heap[parent] as Entry).rank <= entry.rank) break;
    heap[i] = heap[parent] as Entry;
    i = parent;
  }
  heap[i] = entry;
}

function popMin(heap: Entry[]): Entry {
  const top = heap[0] as Entry;
  const last = heap.pop() as Entry;
  if (heap.length > 0) {
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && (heap[right] as Entry).rank < (heap[left] as Entry).rank ? right : left;
      if ((heap[child] as Entry).rank >= last.rank) break;
      heap[i] = heap[child] as Entry;
      i = child;
    }
    heap[i] = last;
  }
  return top;
}
