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

export class Scheduler {
  private readonly tasks = new Map<string, ScheduledTask>();
  private readonly waiting: ScheduledTask[];
  private readonly running = new Map<string, number>();
  private readonly outcome = new Map<string, boolean>();
  /** Remaining path per task: its estimate plus the longest remaining path of a task waiting on it. */
  readonly remaining = new Map<string, number>();

  constructor(
    tasks: readonly ScheduledTask[],
    private readonly slots: (queue: string) => number,
    order: Order = "longest-path",
  ) {
    for (const t of tasks) this.tasks.set(t.id, { ...t, dependsOn: t.dependsOn.filter((d) => d !== t.id) });
    const dependents = new Map<string, string[]>();
    for (const t of this.tasks.values()) {
      for (const d of t.dependsOn) if (this.tasks.has(d)) dependents.set(d, [...(dependents.get(d) ?? []), t.id]);
    }
    const path = (id: string, seen: Set<string>): number => {
      const known = this.remaining.get(id);
      if (known !== undefined) return known;
      if (seen.has(id)) throw new Error(`the batch's tasks wait on each other in a cycle through ${id}`);
      seen.add(id);
      const after = Math.max(0, ...(dependents.get(id) ?? []).map((d) => path(d, seen)));
      const value = (this.tasks.get(id)?.estimate ?? 0) + after;
      this.remaining.set(id, value);
      return value;
    };
    for (const id of this.tasks.keys()) path(id, new Set());
    // Stable: equal paths keep the order they were given in.
    const given = [...this.tasks.values()];
    this.waiting = order === "as-given" ? given : given.map((t, i) => ({ t, i })).sort((a, b) => (this.remaining.get(b.t.id) ?? 0) - (this.remaining.get(a.t.id) ?? 0) || a.i - b.i).map((x) => x.t);
  }

  /** The tasks to start now and those to give up on; call again after every `finished`. */
  next(): Step {
    const start: string[] = [];
    const skip: { id: string; failed: string[] }[] = [];
    let changed = true;
    // Skipping a task can make its own dependents skippable: repeat until nothing moves.
    while (changed) {
      changed = false;
      for (let i = 0; i < this.waiting.length; i++) {
        const task = this.waiting[i] as ScheduledTask;
        const deps = task.dependsOn.filter((d) => this.tasks.has(d));
        const failed = deps.filter((d) => this.outcome.get(d) === false);
        if (failed.length > 0) {
          this.waiting.splice(i--, 1);
          this.outcome.set(task.id, false);
          skip.push({ id: task.id, failed });
          changed = true;
          continue;
        }
        if (!deps.every((d) => this.outcome.get(d) === true)) continue;
        const busy = this.running.get(task.queue) ?? 0;
        if (busy >= Math.max(1, this.slots(task.queue))) continue;
        this.waiting.splice(i--, 1);
        this.running.set(task.queue, busy + 1);
        start.push(task.id);
        changed = true;
      }
    }
    return { start, skip };
  }

  /** A started task ended. */
  finished(id: string, success: boolean): void {
    const task = this.tasks.get(id);
    if (!task) throw new Error(`no task ${id} in this batch`);
    this.running.set(task.queue, (this.running.get(task.queue) ?? 1) - 1);
    this.outcome.set(id, success);
  }

  /** Whether anything is left to start or waiting to end. */
  get done(): boolean {
    return this.waiting.length === 0 && [...this.running.values()].every((n) => n === 0);
  }
}
