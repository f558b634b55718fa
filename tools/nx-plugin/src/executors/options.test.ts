import { describe, expect, it } from "vitest";
import { loadMatrix } from "../../../../libs/matrix/src";
import { makePlan } from "../../../../libs/plan/src";
import { PROJECT_ROOT } from "../../../testing/workspace";
import { currentCodeInputs } from "../../bundle.js";
import { parseCodeInputs } from "../code-inputs";
import { parsePluginOptions, pluginOptionsSchema } from "../config";
import { imagesProject, projectsByFile } from "../nodes";
import { EXECUTOR_OPTIONS, parseOptions, type ExecutorName } from "./options";

/** Every target the plugin makes for the real matrix, with the executor it runs. */
function everyTarget(pluginOptions: Record<string, unknown>): { id: string; executor: ExecutorName; options: unknown }[] {
  const options = parsePluginOptions(pluginOptions);
  const plan = makePlan(loadMatrix(PROJECT_ROOT), { repositories: { staging: options.stagingRepo, public: options.publicRepo }, pins: "commit" });
  const projects = [...projectsByFile(plan, options, parseCodeInputs(currentCodeInputs())).values()].flatMap((byRoot) => Object.values(byRoot));
  projects.push(imagesProject(options));
  return projects.flatMap((project) =>
    Object.entries(project.targets ?? {}).map(([name, target]) => ({
      id: `${project.name}:${name}`,
      executor: (target.executor ?? "").split(":")[1] as ExecutorName,
      options: target.options,
    })),
  );
}

describe("executor options", () => {
  it("that the plugin also has are the plugin's own schemas (one check, default and description each)", () => {
    const plugin = pluginOptionsSchema.shape as Record<string, unknown>;
    let shared = 0;
    for (const [executor, schema] of Object.entries(EXECUTOR_OPTIONS)) {
      for (const [name, option] of Object.entries(schema.shape as Record<string, unknown>)) {
        // dryRun is the plugin's without its default: a task says it only when it is a dry run.
        if (!(name in plugin) || name === "dryRun") continue;
        shared++;
        expect(option, `${executor}.${name}`).toBe(plugin[name]);
      }
    }
    expect(shared).toBeGreaterThan(10);
  });

  it("accept every target's options the plugin makes, with and without registry settings", () => {
    for (const pluginOptions of [{}, { registry: { username: "u", passwordFile: "/p" }, builders: { arm64: "remote" }, dryRun: true }]) {
      const targets = everyTarget(pluginOptions);
      expect(new Set(targets.map((t) => t.executor))).toEqual(new Set(Object.keys(EXECUTOR_OPTIONS)));
      for (const target of targets) expect(() => parseOptions(target.executor, target.options), target.id).not.toThrow();
    }
  });

  it("refuse an unknown option in one line naming the executor and the option", () => {
    const build = everyTarget({}).find((t) => t.id === "debian-13-opam:build-amd64");
    expect(() => parseOptions("build", { ...(build?.options as object), foo: 1 })).toThrow(/^build: unknown option "foo"$/);
    expect(() => parseOptions("update-pins", { stagingRepo: "s", registry: { token: "x" } })).toThrow(/^update-pins: unknown option "registry\.token"$/);
  });

  it("quote a bad value, and report every problem at once", () => {
    const error = (() => {
      try {
        parseOptions("build", { image: "x", arch: "aarch64", os: "linux", tag: "t", stagingRepo: "s", rebuildPeriodDays: -1, _: ["extra"] });
      } catch (e) {
        return (e as Error).message;
      }
      return "";
    })();
    const lines = error.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines).toContainEqual(expect.stringMatching(/^build: unexpected argument "extra"/));
    expect(lines).toContainEqual(expect.stringMatching(/^build: option "arch": .*"amd64".*\(got "aarch64"\)$/));
    expect(lines).toContainEqual(expect.stringMatching(/^build: option "rebuildPeriodDays": .*\(got -1\)$/));
  });
});
