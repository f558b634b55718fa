/**
 * The plugin runs from a bundle of its sources, in Nx's own process (.env turns
 * plugin isolation off). Through the real nx binary: the code that computes the
 * graph is always the code in the sources, also in the long-lived daemon.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createWorkspace, smallFixture, type Workspace } from "../workspace";

const TAGS = "libs/tags/src/index.ts";
/** Renames every opam image (`…-opam` → `…-opamx`): a change to the code the graph is made by. */
const renameOpamImages = (ws: Workspace) => {
  const text = ws.read(TAGS);
  expect(text).toContain(': "opam"}');
  ws.write(TAGS, text.replace(': "opam"}', ': "opamx"}'));
};

describe("the plugin's bundle", () => {
  let ws: Workspace | undefined;
  afterEach(async () => {
    await ws?.nx(["daemon", "--stop"], { NX_DAEMON: "true" });
    ws?.dispose();
  });

  it("runs with plugin isolation off, as the workspace's .env says", async () => {
    ws = createWorkspace({ fixture: smallFixture() });
    expect(ws.read(".env")).toMatch(/^NX_ISOLATE_PLUGINS=false$/m);
    const projects = JSON.parse((await ws.nxOk(["show", "projects", "--json"])).stdout) as string[];
    expect(projects).toContain("debian-13-opam");
  });

  it("follows an edit of the sources at once, also in the Nx daemon", async () => {
    ws = createWorkspace({ fixture: smallFixture() });
    const daemon = { NX_DAEMON: "true" };
    expect(JSON.parse((await ws.nxOk(["show", "projects", "--json"], daemon)).stdout)).toContain("debian-13-opam");
    renameOpamImages(ws);
    // The daemon recomputes the graph on the file change; the plugin it loaded must not keep the old code.
    const after = JSON.parse((await ws.nxOk(["show", "projects", "--json"], daemon)).stdout) as string[];
    expect(after).toContain("debian-13-opamx");
    expect(after).not.toContain("debian-13-opam");
  });

  it("fails graph construction naming the file when a source does not parse", async () => {
    ws = createWorkspace({ fixture: smallFixture() });
    ws.write(TAGS, `${ws.read(TAGS)}\nconst = ;\n`);
    const result = await ws.nx(["show", "projects"]);
    expect(result.exitCode).not.toBe(0);
    expect(result.all).toContain("cannot bundle the plugin from its sources");
    expect(result.all).toContain("libs/tags/src/index.ts");
  });
});
