import { describe, expect, it } from "vitest";
import { Scheduler, type ScheduledTask, type Step } from "./schedule";

const task = (id: string, queue: string, dependsOn: string[] = [], estimate = 1): ScheduledTask => ({ id, queue, dependsOn, estimate });

describe("the batch scheduler", () => {
  it("gives each builder its own slots: a full amd64 queue never holds arm64 back", () => {
    const tasks = [task("a1", "amd64"), task("a2", "amd64"), task("a3", "amd64"), task("r1", "arm64"), task("r2", "arm64")];
    const s = new Scheduler(tasks, (q) => (q === "amd64" ? 2 : 1));
    expect(s.next().start).toEqual(["a1", "a2", "r1"]);
    s.finished("r1", true);
    expect(s.next().start).toEqual(["r2"]);
    s.finished("a1", true);
    expect(s.next().start).toEqual(["a3"]);
  });

  it("starts the longest remaining path first: an opam image before compilers that could run now", () => {
    const tasks = [task("c-ready", "q", [], 8), task("opam", "q", [], 30), task("c1", "q", ["opam"], 8), task("c2", "q", ["opam"], 8)];
    const s = new Scheduler(tasks, () => 1);
    expect(s.remaining.get("opam")).toBe(38);
    expect(s.next().start).toEqual(["opam"]);
    s.finished("opam", true);
    expect(s.next().start).toEqual(["c-ready"]);
  });

  it("keeps the given order with as-given, as the old runner did", () => {
    const tasks = [task("small", "q", [], 1), task("big", "q", [], 50)];
    expect(new Scheduler(tasks, () => 1, "as-given").next().start).toEqual(["small"]);
  });

  it("skips what waits on a failure, and what waits on that, naming the failed task", () => {
    const s = new Scheduler([task("opam", "q"), task("c", "q", ["opam"]), task("g", "q", ["c"]), task("other", "p")], () => 1);
    expect(s.next().start).toEqual(["opam", "other"]);
    s.finished("opam", false);
    s.finished("other", true);
    expect(s.next()).toEqual({ start: [], skip: [{ id: "c", failed: ["opam"] }, { id: "g", failed: ["c"] }] });
    expect(s.done).toBe(true);
  });

  it("starts and skips what the plain rule says, step by step, on random batches with failures", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = lcg(seed);
      const n = 1 + Math.floor(random() * 40);
      const queues = ["amd64", "arm64", "riscv64"];
      const slots = new Map(queues.map((q) => [q, 1 + Math.floor(random() * 3)]));
      // Only earlier tasks are depended on (no cycles); some edges leave the batch, one points at itself.
      const tasks = Array.from({ length: n }, (_, i) =>
        task(
          `t${i}`,
          queues[Math.floor(random() * queues.length)] as string,
          [...Array.from({ length: Math.floor(random() * 3) }, () => `t${Math.floor(random() * i)}`).filter(() => i > 0), ...(random() < 0.1 ? ["outside", `t${i}`] : [])],
          1 + Math.floor(random() * 30),
        ),
      );
      const order = random() < 0.2 ? "as-given" : "longest-path";
      const scheduler = new Scheduler(tasks, (q) => slots.get(q) ?? 1, order);
      const rule = new PlainRule(tasks, (q) => slots.get(q) ?? 1, order === "as-given" ? tasks : [...tasks].sort((a, b) => (scheduler.remaining.get(b.id) ?? 0) - (scheduler.remaining.get(a.id) ?? 0)));
      const running: string[] = [];
      for (let steps = 0; !scheduler.done; steps++) {
        expect(steps, `seed ${seed}`).toBeLessThan(10 * n);
        const got = scheduler.next();
        const want = rule.next();
        expect(got.start, `seed ${seed}, step ${steps}`).toEqual(want.start);
        expect(sortById(got.skip), `seed ${seed}, step ${steps}`).toEqual(sortById(want.skip));
        running.push(...got.start);
        if (running.length === 0) break;
        const [ended] = running.splice(Math.floor(random() * running.length), 1) as [string];
        const ok = random() < 0.85;
        scheduler.finished(ended, ok);
        rule.finished(ended, ok);
      }
      expect(scheduler.done, `seed ${seed}`).toBe(true);
      expect(rule.left, `seed ${seed}`).toBe(0);
    }
  });
});

/** Deterministic pseudo-random numbers in [0, 1), so a failing seed can be replayed. */
function lcg(seed: number): () => number {
  let state = seed;
  return () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

const sortById = (skips: Step["skip"]) => [...skips].map((s) => ({ id: s.id, failed: [...s.failed].sort() })).sort((a, b) => a.id.localeCompare(b.id));

/**
 * The rule the scheduler keeps, said the plain way: after every change, walk all
 * waiting tasks in start order; skip one that waits on a failed or skipped task,
 * start one whose dependencies all succeeded if its queue has a free slot; repeat
 * until nothing moves. A skipped task names every task it waited on that failed
 * or was skipped by then. (A stable sort: equal paths keep the given order.)
 */
class PlainRule {
  private readonly waiting: ScheduledTask[];
  private readonly outcome = new Map<string, boolean>();
  private readonly busy = new Map<string, number>();
  private readonly ids: Set<string>;
  private readonly queueOf: Map<string, string>;
  constructor(tasks: readonly ScheduledTask[], private readonly slots: (q: string) => number, ordered: readonly ScheduledTask[]) {
    this.ids = new Set(tasks.map((t) => t.id));
    this.queueOf = new Map(tasks.map((t) => [t.id, t.queue]));
    this.waiting = [...ordered];
  }
  get left(): number {
    return this.waiting.length;
  }
  next(): { start: string[]; skip: { id: string; failed: string[] }[] } {
    const start: string[] = [];
    const skipped: string[][] = [];
    const depsOf = (t: ScheduledTask) => [...new Set(t.dependsOn.filter((d) => d !== t.id && this.ids.has(d)))];
    for (let changed = true; changed; ) {
      changed = false;
      for (let i = 0; i < this.waiting.length; i++) {
        const t = this.waiting[i] as ScheduledTask;
        const deps = depsOf(t);
        if (deps.some((d) => this.outcome.get(d) === false)) {
          this.waiting.splice(i--, 1);
          this.outcome.set(t.id, false);
          skipped.push([t.id, ...deps]);
          changed = true;
        } else if (deps.every((d) => this.outcome.get(d) === true) && (this.busy.get(t.queue) ?? 0) < this.slots(t.queue)) {
          this.waiting.splice(i--, 1);
          this.busy.set(t.queue, (this.busy.get(t.queue) ?? 0) + 1);
          start.push(t.id);
          changed = true;
        }
      }
    }
    const skip = skipped.map(([id, ...deps]) => ({ id: id as string, failed: deps.filter((d) => this.outcome.get(d) === false) }));
    return { start, skip };
  }
  finished(id: string, ok: boolean): void {
    const queue = this.queueOf.get(id) as string;
    this.busy.set(queue, (this.busy.get(queue) ?? 1) - 1);
    this.outcome.set(id, ok);
  }
}
