/**
 * The cache is as precise as what decides each task. Edits a contributor makes
 * are applied one after another to a throw-away workspace, and after each,
 * `nx run-many -t publish` runs through the real nx binary (dry-run builds, so
 * nothing needs an engine). The tasks that miss the cache must be exactly those
 * an oracle computed from the plan alone says are decided by the edit:
 * - a build, by its Dockerfile, its context (pins, base digest) and its parent's build;
 * - a publish, by its tags, what each joins, and the builds it joins;
 * - and two rules of Nx's own: every task of a project whose list of targets
 *   changed runs (Nx hashes a project's target list into all of its tasks), and a
 *   batched build whose parent build ran in the same batch runs without a cache
 *   look-up (Nx re-hashes it afterwards). Such tasks run but write the same output.
 * Each edit also reports which of the tasks that ran wrote a different output;
 * the README's table is this test's output.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMatrix } from "../../../libs/matrix/src";
import { DEFAULT_GRACE_DAYS, makePlan, type Plan } from "../../../libs/plan/src";
import { cacheHits, createWorkspace, ranTasks, smallFixture, type Workspace } from "../workspace";

let ws: Workspace;
const report: string[] = [];

/** The decision behind every build and publish task of a plan, as comparable text. */
function decisions(plan: Plan): Map<string, string> {
  const builds = new Map(plan.images.flatMap((i) => i.builds).map((b) => [b.id, b]));
  const memo = new Map<string, string>();
  const buildKey = (id: string): string => {
    const known = memo.get(id);
    if (known) return known;
    const b = builds.get(id);
    if (!b) throw new Error(`no build ${id}`);
    const key = JSON.stringify({
      dockerfile: b.dockerfile,
      context: b.context === "opam-repository" ? { ...plan.repository, base: b.base } : b.base ? { base: b.base } : "none",
      parent: b.parent ? buildKey(b.parent) : null,
    });
    memo.set(id, key);
    return key;
  };
  const out = new Map<string, string>();
  for (const image of plan.images) {
    for (const b of image.builds) out.set(`${image.name}:build-${b.arch}`, buildKey(b.id));
    const byTag = new Map(plan.images.flatMap((i) => i.builds).map((b) => [b.stagingTag, b.id]));
    out.set(
      `${image.name}:publish`,
      JSON.stringify(image.manifests.map((m) => ({ tag: m.tag, builds: m.sources.map((s) => buildKey(byTag.get(s) as string)) }))),
    );
  }
  return out;
}

/** Projects whose target list (the arches they build) differs: Nx re-hashes all their tasks. */
function reshapedProjects(before: Plan, after: Plan): Set<string> {
  const arches = (plan: Plan) => new Map(plan.images.map((i) => [i.name, i.builds.map((b) => b.arch).join(",")]));
  const a = arches(before);
  return new Set([...arches(after)].filter(([name, list]) => a.has(name) && a.get(name) !== list).map(([name]) => name));
}

/** The plan as the plugin makes it: the real clock (nx runs with it too) and the default grace period. */
const planNow = (): Plan =>
  makePlan(loadMatrix(ws.dir), {
    repositories: { staging: "localhost:5000/opam-staging", public: "localhost:5000/opam" },
    pins: "commit",
    retirement: { now: new Date(), graceDays: DEFAULT_GRACE_DAYS },
  });
const daysAgo = (days: number): string => new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);

/** Every build and publish record under dist/, by task id, to tell which tasks wrote something new. */
function outputs(): Map<string, string> {
  const records = new Map<string, string>();
  // The runs are dry: their records are a dry run's.
  const root = ws.path("dist/dry-run");
  if (!existsSync(root)) return records;
  for (const image of readdirSync(root)) {
    for (const file of readdirSync(join(root, image))) {
      const build = /^(build-[a-z0-9]+)\.json$/.exec(file);
      const target = build ? build[1] : file === "publish.json" ? "publish" : undefined;
      if (target) records.set(`${image}:${target}`, readFileSync(join(root, image, file), "utf8"));
    }
  }
  return records;
}

const isBuildOrPublish = (task: string) => /:(build-[a-z0-9]+|publish)$/.test(task);

async function publishAll(): Promise<{ ran: Set<string>; all: string }> {
  const result = await ws.nxOk(["run-many", "-t", "publish", "--outputStyle=static"]);
  return { ran: new Set([...ranTasks(result.all)].filter(isBuildOrPublish)), all: result.all };
}

/** Applies an edit, runs everything again, and checks the misses against the oracle. */
async function expectExactMisses(name: string, edit: () => void, check: (ran: Set<string>) => void = () => {}): Promise<void> {
  const before = planNow();
  const decidedBefore = decisions(before);
  const outputsBefore = outputs();
  edit();
  ws.commit(name);
  const after = planNow();
  const reshaped = reshapedProjects(before, after);
  const expected = new Set<string>();
  const decided = new Set<string>();
  for (const [task, key] of decisions(after)) {
    if (decidedBefore.get(task) !== key) decided.add(task);
    if (decidedBefore.get(task) !== key || reshaped.has(task.slice(0, task.indexOf(":")))) expected.add(task);
  }
  // Nx's batch rule, to a fixed point: a build runs when the build it starts FROM ran.
  const parents = new Map(after.images.flatMap((i) => i.builds).map((b) => [`${b.image}:build-${b.arch}`, b.parent]));
  const taskOf = (buildId: string) => buildId.replace(/\/([^/]+)$/, ":build-$1");
  for (let grew = true; grew; ) {
    grew = false;
    for (const [task, parent] of parents) {
      if (parent && !expected.has(task) && expected.has(taskOf(parent))) {
        expected.add(task);
        grew = true;
      }
    }
  }
  const { ran, all } = await publishAll();
  expect([...ran].sort(), `${name}\n${all.slice(-2000)}`).toEqual([...expected].sort());
  const hits = cacheHits(all);
  for (const task of decisions(after).keys()) if (!ran.has(task)) expect(hits.get(task), `${name}: ${task}`).toBe("local");
  const outputsAfter = outputs();
  const changed = [...ran].filter((t) => outputsAfter.get(t) !== outputsBefore.get(t));
  // A task whose output changed must be one the edit decides; the others ran and wrote the same bytes.
  expect(changed.sort(), name).toEqual([...decided].filter((t) => ran.has(t)).sort());
  check(ran);
  const count = (tasks: Iterable<string>, kind: RegExp) => [...tasks].filter((t) => kind.test(t)).length;
  report.push(
    `| ${name} | ${count(ran, /:build-/)} | ${count(changed, /:build-/)} | ${count(ran, /:publish$/)} | ${count(changed, /:publish$/)} |`,
  );
}

beforeAll(async () => {
  const small = smallFixture();
  const alpine = small.distros.find((d) => d.name === "alpine-3.23");
  const older = { name: "alpine-3.22", json: { ...alpine?.json, version: "3.22", title: "Alpine 3.22", base: { image: "alpine", tag: "3.22" }, aliases: [] } };
  ws = createWorkspace({ fixture: { ...small, distros: [...small.distros, older] }, pluginOptions: { dryRun: true } });
  // The first run does everything; each edit below starts from a fully cached state.
  await publishAll();
}, 300_000);

afterAll(() => {
  ws?.dispose();
  if (report.length) {
    console.log(["| edit | builds ran | builds with new output | publishes ran | publishes with new output |", "| --- | --- | --- | --- | --- |", ...report].join("\n"));
  }
});

describe("the tasks that miss the cache after an edit are exactly those it decides", () => {
  it("a second run with no edit runs nothing", async () => {
    expect([...(await publishAll()).ran]).toEqual([]);
  });

  it("move an alias: only the publishes of the images whose tags move", async () => {
    await expectExactMisses(
      "move an alias",
      () => {
        ws.editJson("images/alpine-3.23/image.json", (j) => (j.aliases = []));
        ws.editJson("images/alpine-3.22/image.json", (j) => (j.aliases = ["alpine"]));
      },
      (ran) => {
        expect([...ran].filter((t) => t.includes(":build-"))).toEqual([]);
        expect(ran).toContain("alpine-3.22-ocaml-5.4:publish");
        expect(ran).not.toContain("alpine-3.23-opam:publish");
      },
    );
  });

  it("add a compiler release: its images, and the publishes of the images that lose the newest tags", async () => {
    await expectExactMisses(
      "add a compiler release",
      () => ws.editJson("images/compilers.json", (j) => (j.releases = [...(j.releases as string[]), "5.5.0"])),
      (ran) => {
        expect(ran).toContain("debian-13-ocaml-5.5:build-amd64");
        expect(ran).not.toContain("debian-13-opam:build-amd64");
        expect(ran).not.toContain("debian-13-ocaml-4.14:build-amd64");
      },
    );
  });

  it("add a distro: its own images only", async () => {
    await expectExactMisses(
      "add a distro",
      () => {
        const json = JSON.parse(ws.read("images/alpine-3.22/image.json")) as Record<string, unknown>;
        ws.write("images/alpine-3.24/image.json", JSON.stringify({ ...json, version: "3.24", title: "Alpine 3.24", base: { image: "alpine", tag: "3.24" }, aliases: [] }));
      },
      (ran) => expect([...ran].every((t) => t.startsWith("alpine-3.24-"))).toBe(true),
    );
  });

  it("drop an arch: the distro's images re-run in Nx, and only their publishes change", async () => {
    await expectExactMisses("drop an arch", () => ws.editJson("images/debian-13/image.json", (j) => delete (j.arches as Record<string, string>).arm64));
  });

  it("move one pin (a distro's base digest): that distro's builds and publishes", async () => {
    await expectExactMisses(
      "move one pin (base digest)",
      () => ws.editJson("images/alpine-3.22/image.json", (j) => ((j.base as Record<string, string>).digest = `sha256:${"a".repeat(64)}`)),
      (ran) => {
        expect(ran).toContain("alpine-3.22-opam:build-amd64");
        expect(ran).toContain("alpine-3.22-ocaml-4.14:build-amd64");
        expect([...ran].every((t) => t.startsWith("alpine-3.22-"))).toBe(true);
      },
    );
  });

  it("follow an upstream release (a distro deprecated, its successor added with the alias): the successor's images and the alias moves", async () => {
    await expectExactMisses(
      "deprecate a distro, add its successor",
      () => {
        const current = JSON.parse(ws.read("images/alpine-3.23/image.json")) as Record<string, unknown>;
        ws.editJson("images/alpine-3.22/image.json", (j) => (j.aliases = []));
        ws.editJson("images/alpine-3.23/image.json", (j) => {
          j.status = "deprecated";
          // Today: within its grace period, so its tags are left alone for now.
          j.deprecatedOn = daysAgo(0);
          j.aliases = [];
        });
        ws.write("images/alpine-3.25/image.json", JSON.stringify({ ...current, version: "3.25", title: "Alpine 3.25", base: { image: "alpine", tag: "3.25" }, aliases: ["alpine"] }));
      },
      (ran) => {
        // The deprecated distro is planned nowhere: nothing of it runs, and its projects are gone.
        expect([...ran].filter((t) => t.startsWith("alpine-3.23-"))).toEqual([]);
        expect(ran).toContain("alpine-3.25-opam:build-amd64");
        expect([...ran].filter((t) => t.startsWith("debian-") || t.startsWith("alpine-3.24-"))).toEqual([]);
      },
    );
    const projects = JSON.parse((await ws.nxOk(["show", "projects", "--json"])).stdout) as string[];
    expect(projects.filter((p) => p.startsWith("alpine-3.23-"))).toEqual([]);
  });

  it("end a deprecated distro's grace period: only its deprecation image builds and publishes", async () => {
    await expectExactMisses(
      "a deprecated distro's grace period ends",
      () => ws.editJson("images/alpine-3.23/image.json", (j) => (j.deprecatedOn = daysAgo(DEFAULT_GRACE_DAYS + 1))),
      (ran) => {
        expect([...ran].sort()).toEqual(["alpine-3.23-deprecated:build-amd64", "alpine-3.23-deprecated:publish"]);
      },
    );
  });

  // libs/dockerfile is loaded by the render executor only (code-inputs.test.ts checks each target's code inputs).
  it("edit a comment in the planning code (libs/dockerfile): no build or publish", async () => {
    await expectExactMisses("comment in libs/dockerfile", () => {
      const file = ws.path("libs/dockerfile/src/print.ts");
      writeFileSync(file, `${readFileSync(file, "utf8")}\n// a comment\n`);
    });
  });
});

describe("nx affected follows the same precision", () => {
  it("moving an alias affects no opam image", async () => {
    ws.editJson("images/alpine-3.25/image.json", (j) => (j.aliases = []));
    ws.editJson("images/alpine-3.22/image.json", (j) => (j.aliases = ["alpine"]));
    ws.commit("alias to the older distro");
    const out = await ws.nxOk(["show", "projects", "--affected", "-t", "publish", "--base=HEAD~1", "--head=HEAD", "--json"]);
    const affected = JSON.parse(out.stdout) as string[];
    expect(affected).toContain("alpine-3.22-ocaml-5.4");
    expect(affected.filter((p) => p.endsWith("-opam"))).toEqual([]);
  });
});
