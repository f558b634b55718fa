/**
 * The plugin through the real nx binary, in throw-away git workspaces.
 * Builds and publishes run in dry-run mode here; the Docker tests run them for real.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadMatrix } from "../../../libs/matrix/src";
import { DEFAULT_GRACE_DAYS, makePlan } from "../../../libs/plan/src";
import { cacheHits, createWorkspace, ranTasks, smallFixture, Workspace, PROJECT_ROOT } from "../workspace";

const DRY = { dryRun: true };

describe("the project graph of the full matrix", () => {
  let ws: Workspace;
  beforeAll(() => {
    ws = createWorkspace({ pluginOptions: DRY });
  });
  afterAll(() => ws.dispose());

  it("has exactly one project per image of the plan, named like its public tag", async () => {
    const all = JSON.parse((await ws.nxOk(["show", "projects", "--json"])).stdout) as string[];
    // Besides the images, one project owns the matrix and its pins.
    expect(all).toContain("images");
    const projects = all.filter((p) => p !== "images");
    const plan = makePlan(loadMatrix(PROJECT_ROOT), { repositories: { staging: "s", public: "p" }, pins: "commit", retirement: { now: new Date(), graceDays: DEFAULT_GRACE_DAYS } });
    expect(projects.length).toBe(plan.images.length);
    expect(new Set(projects)).toEqual(new Set(plan.images.map((i) => i.name)));
    expect(projects).toEqual(expect.arrayContaining(["debian-13-opam", "debian-13-ocaml-4.14-flambda", "archive"]));
  });

  it("gives a compiler image render, a build per arch that waits for its opam build, and publish", async () => {
    const project = JSON.parse((await ws.nxOk(["show", "project", "debian-13-ocaml-4.14-flambda", "--json"])).stdout);
    expect(Object.keys(project.targets).sort()).toEqual(
      ["build-amd64", "build-arm64", "build-ppc64le", "build-riscv64", "build-s390x", "publish", "render"].sort(),
    );
    expect(project.targets["build-arm64"].dependsOn).toEqual(["render", { dependencies: true, target: "build-arm64", params: "forward" }]);
    const [ownRender, ...publishDeps] = project.targets.publish.dependsOn as [string, ...{ target: string; params?: string }[]];
    // The render lists the tags the publish pushes.
    expect(ownRender).toBe("render");
    expect(publishDeps.map((d) => d.target).sort()).toEqual(["build-amd64", "build-arm64", "build-ppc64le", "build-riscv64", "build-s390x"].sort());
    // --dryRun and other overrides reach every build a publish waits for.
    expect(publishDeps.every((d) => d.params === "forward")).toBe(true);
    expect(project.implicitDependencies).toEqual(["debian-13-opam"]);
    expect(project.targets.render.outputs).toEqual(["{workspaceRoot}/dist/images/debian-13-ocaml-4.14-flambda/render"]);
  });

  it("draws the pipeline in nx graph: compiler images and the archive depend on their opam image", async () => {
    await ws.nxOk(["graph", "--file=graph.json"]);
    const graph = JSON.parse(ws.read("graph.json")).graph as { dependencies: Record<string, { target: string }[]> };
    expect(graph.dependencies["debian-13-ocaml-5.4"]?.map((d) => d.target)).toContain("debian-13-opam");
    expect(graph.dependencies["archive"]?.map((d) => d.target)).toEqual(["debian-13-opam"]);
    expect(graph.dependencies["windows-all-mingw-ocaml-5.4"]?.map((d) => d.target).sort()).toEqual(
      ["windows-mingw-ltsc2019-ocaml-5.4", "windows-server-mingw-ltsc2022-ocaml-5.4", "windows-server-mingw-ltsc2025-ocaml-5.4"].sort(),
    );
    expect(graph.dependencies["debian-13-opam"]).toEqual([]);
  });

  it("fails graph construction with one line naming the file and field of a broken images/ file", async () => {
    ws.editJson("images/fedora-43/image.json", (j) => (j.arches = { amd64: "", sparc64: "" }));
    const result = await ws.nx(["show", "projects"]);
    expect(result.exitCode).not.toBe(0);
    const lines = result.all.split("\n").filter((l) => l.includes("images/fedora-43/image.json"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/images\/fedora-43\/image\.json: arches: unknown arch "sparc64"; known: amd64, arm64/);
    ws.git("checkout", "--", "images/fedora-43/image.json");
  });
});

describe("caching", () => {
  let ws: Workspace;
  beforeAll(() => {
    ws = createWorkspace({ fixture: smallFixture(), pluginOptions: DRY });
  });
  afterAll(() => ws.dispose());

  const builds = ["debian-13-opam", "debian-13-ocaml-4.14", "debian-13-ocaml-4.14-flambda", "debian-13-ocaml-5.4", "debian-13-ocaml-5.4-flambda", "archive", "alpine-3.23-opam", "alpine-3.23-ocaml-4.14", "alpine-3.23-ocaml-5.4"].map(
    (p) => `${p}:build-amd64`,
  );

  it("replays a second render of everything from the cache", async () => {
    const first = await ws.nxOk(["run-many", "-t", "render", "--outputStyle=static"]);
    expect(cacheHits(first.all).size).toBe(0);
    const second = await ws.nxOk(["run-many", "-t", "render", "--outputStyle=static"]);
    expect(second.all).toMatch(/Cache:\s+9\/9 hit/);
    expect(cacheHits(second.all).size).toBe(9);
  });

  it("re-runs renders but no build when only a comment in libs/ changes", async () => {
    await ws.nxOk(["run-many", "-t", "build-amd64", "--outputStyle=static"]);
    const file = "libs/plan/src/plan.ts";
    ws.write(file, `${ws.read(file)}\n// a comment that changes no Dockerfile\n`);
    const result = await ws.nxOk(["run-many", "-t", "build-amd64", "--outputStyle=static"]);
    const hits = cacheHits(result.all);
    for (const task of builds) expect(hits.get(task), task).toBe("local");
    expect([...hits.keys()].filter((t) => t.endsWith(":render"))).toEqual([]);
  });

  it("rebuilds exactly the image whose Dockerfile a change alters, and what is built FROM it", async () => {
    await ws.nxOk(["run-many", "-t", "build-amd64", "--outputStyle=static"]);
    // 4.14.2 → 4.14.3 changes the 4.14 compiler images only (their package and gcc patches).
    ws.editJson("images/compilers.json", (j) => (j.releases = ["4.14.3", "5.4.1"]));
    const result = await ws.nxOk(["run-many", "-t", "build-amd64", "--outputStyle=static"]);
    const ran = new Set([...ranTasks(result.all)].filter((t) => t.includes(":build-")));
    expect([...ran].sort()).toEqual(
      ["alpine-3.23-ocaml-4.14:build-amd64", "debian-13-ocaml-4.14-flambda:build-amd64", "debian-13-ocaml-4.14:build-amd64"].sort(),
    );
    const hits = cacheHits(result.all);
    for (const task of builds.filter((t) => !ran.has(t))) expect(hits.get(task), task).toBe("local");
  });

  it("keys builds on the builder: a different builder for an arch misses the cache for that arch only", async () => {
    await ws.nxOk(["run-many", "-t", "build-amd64,build-arm64", "--outputStyle=static"]);
    const result = await ws.nxOk(["run-many", "-t", "build-amd64,build-arm64", "--outputStyle=static"], { OBI_BUILDER_ARM64: "remote-arm" });
    const ran = new Set([...ranTasks(result.all)].filter((t) => t.includes(":build-")));
    // The fixture builds opam, 4.14 and 5.4 for arm64 on Debian (flambda is amd64-only).
    expect([...ran].sort()).toEqual(["debian-13-ocaml-4.14:build-arm64", "debian-13-ocaml-5.4:build-arm64", "debian-13-opam:build-arm64"]);
  });
});

describe("affected", () => {
  let ws: Workspace;
  beforeAll(() => {
    ws = createWorkspace({ fixture: smallFixture(), pluginOptions: DRY });
  });
  afterAll(() => ws.dispose());

  async function affected(): Promise<string[]> {
    const out = await ws.nxOk(["show", "projects", "--affected", "-t", "publish", "--base=main~1", "--head=main", "--json"]);
    // `images`, the project that owns the matrix files, is affected by any of them; it builds nothing.
    return (JSON.parse(out.stdout) as string[]).filter((p) => p !== "images").sort();
  }

  it("follows one distro's file to exactly that distro's images", async () => {
    ws.editJson("images/alpine-3.23/image.json", (j) => (j.gcc = "14.2"));
    ws.commit("alpine: gcc 14.2");
    expect(await affected()).toEqual(["alpine-3.23-ocaml-4.14", "alpine-3.23-ocaml-5.4", "alpine-3.23-opam"]);
  });

  it("follows the shared compiler file to the compiler images and no opam image", async () => {
    ws.editJson("images/compilers.json", (j) => (j.dev = ["5.5.0"]));
    ws.commit("compilers: 5.5 dev");
    const names = await affected();
    expect(names.filter((n) => n.endsWith("-opam"))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(["debian-13-ocaml-4.14", "debian-13-ocaml-5.5", "alpine-3.23-ocaml-5.4"]));
    expect(names).not.toContain("archive");
  });

  it("follows the opam pins to the opam images and what is built on them", async () => {
    ws.editJson("images/opam.json", (j) => ((j.builds as { commit: string }[])[0]!.commit = "f".repeat(40)));
    ws.commit("opam: new 2.5 pin");
    const names = await affected();
    expect(names).toEqual(expect.arrayContaining(["debian-13-opam", "alpine-3.23-opam", "debian-13-ocaml-5.4", "archive"]));
  });
});

describe("scheduled rebuilds", () => {
  let ws: Workspace;
  beforeAll(() => {
    ws = createWorkspace({ fixture: smallFixture(), pluginOptions: DRY });
  });
  afterAll(() => ws.dispose());

  const DAY = 86_400_000;
  const at = (ms: number) => ({ OBI_NOW: new Date(ms).toISOString() });
  const periodStart = Math.floor(Date.parse("2026-03-01T00:00:00Z") / (7 * DAY)) * 7 * DAY;

  it("reuses every build inside one rebuild period and redoes every build in the next", async () => {
    const first = await ws.nxOk(["run-many", "-t", "build-amd64", "--outputStyle=static"], at(periodStart + DAY));
    const builds = [...ranTasks(first.all)].filter((t) => t.endsWith(":build-amd64"));
    expect(builds).toHaveLength(9);

    const sameWeek = await ws.nxOk(["run-many", "-t", "build-amd64", "--outputStyle=static"], at(periodStart + 6 * DAY));
    expect([...ranTasks(sameWeek.all)]).toEqual([]);
    for (const task of builds) expect(cacheHits(sameWeek.all).get(task), task).toBe("local");

    const nextWeek = await ws.nxOk(["run-many", "-t", "build-amd64", "--outputStyle=static"], at(periodStart + 7 * DAY + 3_600_000));
    expect([...ranTasks(nextWeek.all)].sort()).toEqual([...builds].sort());
    // The Dockerfiles did not change: renders still come from the cache.
    expect([...cacheHits(nextWeek.all).keys()].every((t) => t.endsWith(":render"))).toBe(true);
    // A dry run's record (the workspace is a dry one).
    const record = JSON.parse(ws.read("dist/dry-run/debian-13-opam/build-amd64.json")) as { buildId: string };
    expect(record.buildId).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("bad input in images/ (issue 12)", () => {
  let ws: Workspace;
  const debian = smallFixture().distros.find((d) => d.name === "debian-13")!.json;
  beforeAll(() => {
    ws = createWorkspace({ fixture: smallFixture(), pluginOptions: DRY });
  });
  afterEach(() => ws.git("clean", "-fdq", "images"));
  afterAll(() => ws.dispose());

  /** The lines of a failed `nx show projects` that name `file`. */
  async function refusal(file: string): Promise<string[]> {
    const result = await ws.nx(["show", "projects"]);
    expect(result.exitCode, result.all.slice(-2000)).not.toBe(0);
    return result.all.split("\n").filter((line) => line.includes(file));
  }

  it("refuses a second folder declaring the same family and version, naming both files", async () => {
    ws.write("images/debian-13-again/image.json", JSON.stringify({ ...debian, aliases: [], default: false }));
    expect(await refusal("images/debian-13-again/image.json")).toEqual([
      expect.stringMatching(/images\/debian-13-again\/image\.json: version: "13" of family "debian" is already declared by images\/debian-13\/image\.json$/),
    ]);
  });

  // Once ran `nx show projects` out of memory after five minutes; now one line, at once.
  it("refuses an image.json of 500k aliases in one line, without planning it", { timeout: 120_000 }, async () => {
    const aliases = Array.from({ length: 500_000 }, (_, i) => `a${i}`);
    ws.write("images/huge/image.json", JSON.stringify({ ...debian, version: "huge", aliases, default: false }));
    expect(await refusal("images/huge/image.json")).toEqual([
      expect.stringMatching(/images\/huge\/image\.json: \(top level\): \d+(\.\d)? MiB, more than the 1 MiB an images\/ file may have$/),
    ]);
  });
});
