/**
 * What Nx tells a user about the plugin, through the real nx binary: target
 * help from the executors' schemas, refusal of unknown options, and the
 * metadata `nx show project` (and the graph's project view) present.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pluginModule from "../../nx-plugin/plugin.js";
import { buildOptionsSchema, publishOptionsSchema } from "../../nx-plugin/src/executors/options";
import { createWorkspace, smallFixture, type Workspace } from "../workspace";

describe("the plugin's self-description", () => {
  let ws: Workspace;
  beforeAll(() => {
    ws = createWorkspace({ fixture: smallFixture(), pluginOptions: { dryRun: true } });
  });
  afterAll(() => ws.dispose());

  it("is exported through Nx 24's createNodes, with createNodesV2 as its alias", () => {
    // The plugin as nx.json names it: the bundle's, given its code inputs.
    const plugin = pluginModule as { createNodes: [string, unknown]; createNodesV2: unknown };
    expect(plugin.createNodes[0]).toMatch(/image\.json/);
    expect(plugin.createNodesV2).toBe(plugin.createNodes);
  });

  it("lists every option of a build target, described, in nx run --help", async () => {
    const help = (await ws.nxOk(["run", "debian-13-opam:build-amd64", "--help"])).stdout;
    // Each option on a line of its own, followed by its description.
    for (const name of Object.keys(buildOptionsSchema.shape)) expect(help, name).toMatch(new RegExp(`^\\s+--${name}\\s+\\S`, "m"));
    expect(help).toContain(buildOptionsSchema.description?.slice(0, 40));
  });

  it("lists every option of a publish target", async () => {
    const help = (await ws.nxOk(["run", "debian-13-opam:publish", "--help"])).stdout;
    for (const name of Object.keys(publishOptionsSchema.shape)) expect(help, name).toMatch(new RegExp(`^\\s+--${name}\\s`, "m"));
  });

  it("refuses an unknown option of a build in one line naming it, and builds nothing", async () => {
    const result = await ws.nx(["run", "debian-13-opam:build-amd64", "--foo=1", "--outputStyle=static"]);
    expect(result.exitCode).not.toBe(0);
    const lines = result.all.split("\n").filter((l) => l.includes("foo") && !l.startsWith(">"));
    expect(lines.length).toBeGreaterThan(0);
    // Prefixed with the image and arch, like every line a task says.
    for (const line of lines) expect(line).toBe('debian-13-opam (amd64): build: unknown option "foo"');
    expect(existsSync(ws.path("dist/dry-run/debian-13-opam/build-amd64.json"))).toBe(false);
  });

  it("refuses an unknown option of render and of update-pins the same way", async () => {
    const render = await ws.nx(["run", "debian-13-opam:render", "--colour=blue", "--outputStyle=static"]);
    expect(render.exitCode).not.toBe(0);
    expect(render.all).toMatch(/^debian-13-opam: render: unknown option "colour"$/m);
    const pins = await ws.nx(["run", "images:update-pins", "--chek", "--outputStyle=static"]);
    expect(pins.exitCode).not.toBe(0);
    expect(pins.all).toMatch(/^update-pins: unknown option "chek"$/m);
  });

  it("describes projects and targets in nx show project: description, technologies, help, target groups", async () => {
    const project = JSON.parse((await ws.nxOk(["show", "project", "debian-13-ocaml-5.4", "--json"])).stdout);
    expect(project.metadata.description).toContain("OCaml 5.4");
    expect(project.metadata.technologies).toEqual(["docker"]);
    const targets = Object.keys(project.targets);
    const groups = project.metadata.targetGroups as Record<string, string[]>;
    expect(groups.build?.sort()).toEqual(targets.filter((t) => t.startsWith("build-")).sort());
    expect(groups.publish).toEqual(["publish"]);
    expect(groups.render).toEqual(["render"]);
    // Every target is in exactly one group.
    expect(Object.values(groups).flat().sort()).toEqual(targets.sort());
    for (const [name, target] of Object.entries(project.targets as Record<string, { metadata: Record<string, unknown> }>)) {
      expect(target.metadata.description, name).toBeTruthy();
      expect(target.metadata.help, name).toEqual(expect.objectContaining({ command: `npx nx run debian-13-ocaml-5.4:${name} --help` }));
    }
    expect(project.targets["build-amd64"].metadata.technologies).toEqual(["docker"]);
    expect(project.targets.publish.metadata.technologies).toEqual(["docker"]);
    expect(project.targets.render.metadata.technologies).toBeUndefined();
    const images = JSON.parse((await ws.nxOk(["show", "project", "images", "--json"])).stdout);
    expect(images.targets["update-pins"].metadata.description).toMatch(/pins/);
    expect(images.metadata.targetGroups).toEqual({ pins: ["update-pins"], status: ["status"], staging: ["prune-staging"], describe: ["describe"] });
  });
});
