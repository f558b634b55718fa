import { describe, expect, it } from "vitest";
import { Scheduler, type ScheduledTask } from "./schedule";

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
});
