/**
 * The plugin's generators (`nx g ./tools/nx-plugin:distro|deprecate-distro|compiler`)
 * through the real nx binary, in a throw-away copy of this workspace with the
 * real images/: what they write, that builds.expected is then what
 * `npm run plan:update` would write, that Nx's graph follows, that they refuse
 * what the matrix loader refuses with its own lines and write nothing then,
 * and that --dry-run writes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGES_LAYOUT, loadMatrix, MatrixError } from "../../../libs/matrix/src";
import { committedPlan, committedPlanText } from "../../../libs/plan/src";
import { resolveRetirement } from "../../nx-plugin/src/settings";
import { createWorkspace, type Workspace } from "../workspace";

let ws: Workspace;
beforeAll(() => {
  ws = createWorkspace();
});
afterAll(() => ws?.dispose());

const generate = (generator: string, ...args: string[]) => ws.nx(["g", `./tools/nx-plugin:${generator}`, ...args]);
const json = (file: string) => JSON.parse(ws.read(file)) as Record<string, unknown>;
/** What git sees changed in the workspace: nothing after a refusal or a dry run. */
const changed = () => ws.git("status", "--porcelain");
const projects = async () => JSON.parse((await ws.nxOk(["show", "projects", "--json"])).stdout) as string[];

/** The committed plan is what plan:update makes of images/ as it now is. */
function expectCommittedPlanCurrent(): void {
  const expected = committedPlanText(committedPlan(loadMatrix(ws.dir), resolveRetirement(undefined)));
  expect(ws.read(IMAGES_LAYOUT.buildsExpected) === expected, "images/builds.expected is not regenerated").toBe(true);
}

/** The loader's own lines for images/ as it is on disk (after an edit made by hand). */
function loaderProblems(): string[] {
  try {
    loadMatrix(ws.dir);
  } catch (e) {
    if (e instanceof MatrixError) return [...e.problems];
    throw e;
  }
  return [];
}

describe("nx g distro", () => {
  it("adds a distro from its sibling: the file, the aliases, builds.expected, the graph, and the plan diff", async () => {
    const before = await projects();
    const planned = committedPlan(loadMatrix(ws.dir), resolveRetirement(undefined));
    const [images, builds] = [planned.images.length, planned.images.reduce((n, i) => n + i.builds.length, 0)];
    const result = await generate("distro", "fedora-45", "--from", "fedora-44", "--take-aliases");
    expect(result.exitCode, result.all).toBe(0);
    const file = json("images/fedora-45/image.json");
    expect(file).toMatchObject({ family: "fedora", version: "45", title: "Fedora 45", base: { image: "fedora", tag: "45" }, aliases: ["fedora"] });
    expect(file.arches).toEqual(json("images/fedora-44/image.json").arches);
    expect(json("images/fedora-44/image.json").aliases).toBeUndefined();
    expectCommittedPlanCurrent();
    expect(result.stdout).toMatch(/^\+ fedora-45\s+amd64 arm64\s+9\s+18\s+19$/m);
    // Nine images and 18 builds more than the plan had.
    expect(result.stdout).toMatch(new RegExp(`^\\s+total\\s+5 arches\\s+${images} → ${images + 9}\\s+${builds} → ${builds + 18}`, "m"));
    const after = await projects();
    const added = after.filter((p) => !before.includes(p));
    expect(added).toHaveLength(9);
    expect(added).toContain("fedora-45-opam");
    expect(after.filter((p) => !added.includes(p)).sort()).toEqual([...before].sort());
    ws.commit("fedora-45");
  });

  it("refuses what the matrix refuses, with the loader's lines, and writes nothing", async () => {
    const cases: [string[], (w: Workspace) => void][] = [
      [["Fedora-46", "--from", "fedora-45", "--distroVersion", "46"], (w) => w.write("images/Fedora-46/image.json", w.read("images/fedora-43/image.json").replace('"43"', '"46"'))],
      [["fedora-46", "--from", "fedora-45", "--distroVersion", "43"], (w) => w.write("images/fedora-46/image.json", w.read("images/fedora-43/image.json"))],
      [["latest", "--from", "fedora-45", "--distroVersion", "47"], (w) => w.write("images/latest/image.json", w.read("images/fedora-43/image.json").replace('"43"', '"47"'))],
    ];
    for (const [args, byHand] of cases) {
      const result = await generate("distro", ...args);
      expect(result.exitCode, args.join(" ")).not.toBe(0);
      expect(changed(), args.join(" ")).toBe("");
      // The same edit made by hand: the loader says the same.
      byHand(ws);
      const problems = loaderProblems();
      ws.git("clean", "-fdq", "images");
      expect(problems.length, args.join(" ")).toBeGreaterThan(0);
      for (const line of problems) expect(result.all, args.join(" ")).toContain(line);
    }
  });

  it("refuses an existing folder, an unknown sibling (with a guess), and a title it cannot tell", async () => {
    const refusals: [string[], string][] = [
      [["fedora-45", "--from", "fedora-44"], "images/fedora-45/image.json: already exists"],
      [["fedora-46", "--from", "fedroa-44"], '--from: no distro "fedroa-44" in images/; did you mean "fedora-44"?'],
      [["debian-14", "--from", "debian-13"], `--title: debian-13's title "Debian 13 (Trixie)" does not end with its version; give the new title`],
    ];
    for (const [args, line] of refusals) {
      const result = await generate("distro", ...args);
      expect(result.exitCode, args.join(" ")).not.toBe(0);
      expect(result.all).toContain(line);
      expect(changed()).toBe("");
    }
  });

  it("writes nothing with --dry-run, and says what it would write", async () => {
    const result = await generate("distro", "fedora-46", "--dry-run");
    expect(result.exitCode, result.all).toBe(0);
    expect(result.all).toContain("CREATE images/fedora-46/image.json");
    expect(result.all).toContain("UPDATE images/builds.expected");
    expect(result.stdout).toMatch(/^\+ fedora-46\s/m);
    expect(changed()).toBe("");
  });
});

describe("nx g deprecate-distro", () => {
  it("sets the status and date and hands the aliases to the successor", async () => {
    const result = await generate("deprecate-distro", "ubuntu-26.04", "--successor", "ubuntu-24.04", "--date", "2026-12-04");
    expect(result.exitCode, result.all).toBe(0);
    expect(json("images/ubuntu-26.04/image.json")).toMatchObject({ status: "deprecated", deprecatedOn: "2026-12-04" });
    expect(json("images/ubuntu-26.04/image.json").aliases).toBeUndefined();
    expect(json("images/ubuntu-24.04/image.json").aliases).toEqual(["ubuntu-lts", "ubuntu"]);
    expect(result.stdout).toMatch(/^- ubuntu-26\.04\s/m);
    expectCommittedPlanCurrent();
    expect(await projects()).not.toContain("ubuntu-26.04-opam");
    ws.commit("ubuntu-26.04 deprecated");
  });

  it("hands the default over too (--dry-run: said, not written)", async () => {
    const result = await generate("deprecate-distro", "debian-13", "--successor", "debian-12", "--dry-run");
    expect(result.exitCode, result.all).toBe(0);
    expect(result.stdout).toContain('images/debian-12/image.json: takes "debian", the default from debian-13');
    expect(result.stdout).toMatch(/^- debian-13\s/m);
    expect(changed()).toBe("");
  });

  it("refuses a successor the matrix would refuse, with the loader's line, and a deprecated distro", async () => {
    const result = await generate("deprecate-distro", "debian-13", "--successor", "alpine-3.23", "--date", "2026-12-04");
    expect(result.exitCode).not.toBe(0);
    expect(result.all).toContain('images/alpine-3.23/image.json: aliases: a deprecated distro has no aliases; move "debian" to the distro that replaces it');
    expect(result.all).toContain("images/alpine-3.23/image.json: default: a deprecated distro cannot be the default");
    expect(changed()).toBe("");
    const again = await generate("deprecate-distro", "ubuntu-26.04");
    expect(again.all).toContain("images/ubuntu-26.04/image.json: status: ubuntu-26.04 is already deprecated");
    const badDate = await generate("deprecate-distro", "fedora-43", "--date", "2026-02-30");
    expect(badDate.all).toContain('deprecate-distro: option "date": not a day of the calendar (got "2026-02-30")');
    expect(changed()).toBe("");
  });
});

describe("nx g compiler", () => {
  it("adds a release in place of its series' older one", async () => {
    const result = await generate("compiler", "5.4.2");
    expect(result.exitCode, result.all).toBe(0);
    const releases = json(IMAGES_LAYOUT.compilers).releases as string[];
    expect(releases.at(-1)).toBe("5.4.2");
    expect(releases).not.toContain("5.4.1");
    expect(ws.read(IMAGES_LAYOUT.buildsExpected)).toContain("5.4.2");
    expectCommittedPlanCurrent();
    ws.commit("5.4.2");
  });

  it("adds a prerelease in place of an older one, and refuses what is listed already", async () => {
    const beta = await generate("compiler", "5.5.0~beta2", "--dry-run");
    expect(beta.exitCode, beta.all).toBe(0);
    expect(beta.stdout).toContain("prerelease 5.5.0~beta2 replaces 5.5.0~beta1");
    expect(changed()).toBe("");
    const older = await generate("compiler", "5.4.1");
    expect(older.exitCode).not.toBe(0);
    expect(older.all).toContain("images/compilers.json: releases: 5.4.2 is already listed for the 5.4 series");
    expect(changed()).toBe("");
  });
});
