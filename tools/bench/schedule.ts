/**
 * How long the whole matrix takes on a fleet, simulated: every build of the real
 * plan (images/), each on its arch's builder, for as long as the duration table
 * says (tools/nx-plugin/src/executors/durations.ts, where the figures come from).
 * The batch runner's own scheduler core (executors/schedule.ts) and its own
 * placement of builds (placeBuild: the builder's queue, slots, estimate) decide
 * what starts when; only the clock is simulated.
 *
 * Prints the makespan of the runner as it was (one queue of OBI_PARALLEL tasks in
 * the order Nx gives them, whatever their builder; a build started on a full
 * engine waits there, holding its place) and of the per-builder queues, against
 * the lower bound: the larger of the busiest builder's work ÷ its slots and the
 * longest chain of builds.
 *
 *   npm run bench:schedule [-- --old-parallel=3]
 */
import { loadMatrix } from "../../libs/matrix/src";
import { makePlan, type Build } from "../../libs/plan/src";
import { UPSTREAM_REPOSITORIES } from "../../libs/tags/src";
import { readCommandLine } from "../cli/cli";
import { builderKeyOf, type BuilderKey } from "../nx-plugin/src/builders";
import { placeBuild } from "../nx-plugin/src/executors/build";
import { buildOptionsSchema, type BuildOptions } from "../nx-plugin/src/executors/options";
import { Scheduler, type Order, type ScheduledTask } from "../nx-plugin/src/executors/schedule";

const values = readCommandLine({
  name: "bench:schedule",
  usage: "npm run bench:schedule [-- --old-parallel=3]",
  summary: "Simulates the whole matrix on a fleet; prints the makespan of the old and the new batch scheduling against the lower bound.",
  options: { "old-parallel": { kind: "count", value: "n", default: 3, description: "the old runner's parallelism (Nx's default is 3)" } },
} as const);

/** The fleet: slots per builder (the issue's example). */
const FLEET: Readonly<Record<BuilderKey, number>> = { amd64: 8, arm64: 4, ppc64le: 2, s390x: 2, riscv64: 1, windows: 2 };

const plan = makePlan(loadMatrix(process.cwd()), { repositories: UPSTREAM_REPOSITORIES, pins: "commit" });
const builds: Build[] = plan.images.flatMap((i) => i.builds);
const byId = new Map(builds.map((b) => [b.id, b]));

/** The options Nx would hand the build executor for a build, with the fleet's builder for its arch. */
function optionsOf(build: Build): BuildOptions {
  const parent = build.parent === undefined ? undefined : byId.get(build.parent);
  const key = builderKeyOf(build.os, build.arch);
  return buildOptionsSchema.parse({
    image: build.image,
    arch: build.arch,
    os: build.os,
    tag: build.tagName,
    ...(parent ? { parent: { image: parent.image, arch: parent.arch } } : {}),
    builder: { kind: "buildx", name: `fleet-${key}`, slots: FLEET[key] },
    stagingRepo: UPSTREAM_REPOSITORIES.staging,
  });
}

const placed = builds.map((b) => ({ build: b, key: builderKeyOf(b.os, b.arch), placement: placeBuild(optionsOf(b)) }));
const durationOf = new Map(placed.map((p) => [p.build.id, p.placement.estimate]));
const engineOf = new Map(placed.map((p) => [p.build.id, p.key]));

interface Policy {
  readonly name: string;
  readonly tasks: ScheduledTask[];
  readonly slots: (queue: string) => number;
  readonly order: Order;
}

/**
 * Runs the scheduler on a simulated clock. Engines have their slots whatever the
 * scheduler thinks: a build started on a full engine waits for a free slot there.
 */
function simulate(policy: Policy): { makespan: number; finished: Map<BuilderKey, number> } {
  const finished = new Map<BuilderKey, number>();
  const scheduler = new Scheduler(policy.tasks, policy.slots, policy.order);
  const busy = new Map<BuilderKey, number>();
  const waitingAtEngine = new Map<BuilderKey, string[]>();
  const ends: { at: number; id: string }[] = [];
  let now = 0;
  const startOnEngine = (id: string) => {
    const engine = engineOf.get(id) as BuilderKey;
    if ((busy.get(engine) ?? 0) < FLEET[engine]) {
      busy.set(engine, (busy.get(engine) ?? 0) + 1);
      ends.push({ at: now + (durationOf.get(id) ?? 0), id });
    } else {
      waitingAtEngine.set(engine, [...(waitingAtEngine.get(engine) ?? []), id]);
    }
  };
  while (!scheduler.done) {
    for (const id of scheduler.next().start) startOnEngine(id);
    ends.sort((a, b) => a.at - b.at);
    const next = ends.shift();
    if (!next) throw new Error(`${policy.name}: nothing running and nothing startable`);
    now = next.at;
    const engine = engineOf.get(next.id) as BuilderKey;
    finished.set(engine, now);
    busy.set(engine, (busy.get(engine) ?? 1) - 1);
    const queued = waitingAtEngine.get(engine)?.shift();
    if (queued) startOnEngine(queued);
    scheduler.finished(next.id, true);
  }
  return { makespan: now, finished };
}

const dependsOn = (b: Build) => (b.parent ? [b.parent] : []);
const oldParallel = values["old-parallel"];
const totalSlots = Object.values(FLEET).reduce((a, b) => a + b, 0);
const oneQueue = (n: number): Policy => ({
  name: `old runner, ${n} at a time`,
  tasks: placed.map((p) => ({ id: p.build.id, queue: "batch", dependsOn: dependsOn(p.build), estimate: 1 })),
  slots: () => n,
  order: "as-given",
});
const perBuilder: Policy = {
  name: "per-builder queues, longest path first",
  tasks: placed.map((p) => ({ id: p.build.id, queue: p.placement.queue, dependsOn: dependsOn(p.build), estimate: p.placement.estimate })),
  slots: (queue) => placed.find((p) => p.placement.queue === queue)?.placement.slots ?? 1,
  order: "longest-path",
};

// The lower bound: no schedule beats the busiest builder's work spread over its slots, nor the longest chain.
const work = new Map<BuilderKey, number>();
for (const p of placed) work.set(p.key, (work.get(p.key) ?? 0) + p.placement.estimate);
const perEngine = [...work].map(([key, minutes]) => ({ key, bound: minutes / FLEET[key], minutes }));
const chain = (id: string): number => (durationOf.get(id) ?? 0) + (byId.get(id)?.parent ? chain(byId.get(id)?.parent as string) : 0);
const criticalPath = Math.max(...builds.map((b) => chain(b.id)));
const bound = Math.max(criticalPath, ...perEngine.map((e) => e.bound));

const hours = (minutes: number) => `${(minutes / 60).toFixed(2)} h`;
console.log(`schedule benchmark: ${builds.length} builds of the real plan on a fleet of ${Object.entries(FLEET).map(([k, n]) => `${k} ${n}`).join(", ")} slots`);
console.log(`durations: tools/nx-plugin/src/executors/durations.ts (assumed figures; see its comment)`);
for (const e of perEngine.sort((a, b) => b.bound - a.bound)) {
  console.log(`  ${e.key.padEnd(8)} ${String(placed.filter((p) => p.key === e.key).length).padStart(4)} builds, ${hours(e.minutes).padStart(9)} of work ÷ ${FLEET[e.key]} slots = ${hours(e.bound)}`);
}
console.log(`  critical path ${hours(criticalPath)}`);
console.log(`lower bound: ${hours(bound)}`);
for (const policy of [oneQueue(oldParallel), oneQueue(totalSlots), perBuilder]) {
  const { makespan, finished } = simulate(policy);
  console.log(`  ${policy.name.padEnd(40)} makespan ${hours(makespan).padStart(8)}  ${(makespan / bound).toFixed(3)}× the bound`);
  // Each builder's own finish against its own bound: whether it waited behind another builder's builds.
  const each = perEngine.map((e) => `${e.key} ${hours(finished.get(e.key) ?? 0)} (${((finished.get(e.key) ?? 0) / Math.max(e.bound, criticalPath)).toFixed(2)}×)`);
  console.log(`      last build per builder: ${each.join(", ")}`);
}
