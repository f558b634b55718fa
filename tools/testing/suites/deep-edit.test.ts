/**
 * A render's cache key holds every module its executor loads, however deep:
 * through the real nx binary, an edit to a module the render executor reaches
 * only through two imports (render.ts → settings.ts → libs/docker/src/index.ts)
 * that changes what the render writes makes the render miss the cache and
 * write the new output, instead of replaying the old one.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cacheHits, createWorkspace, ranTasks, smallFixture, type Workspace } from "../workspace";

const RENDER = "debian-13-ocaml-5.4:render";
const DOCKERFILE = "dist/images/debian-13-ocaml-5.4/render/amd64.Dockerfile";
/** Two imports from the render executor, and loaded by no other part of the graph's code. */
const DEEP = "libs/docker/src/index.ts";

let ws: Workspace;
beforeAll(() => {
  ws = createWorkspace({ fixture: smallFixture(), pluginOptions: { dryRun: true } });
});
afterAll(() => ws?.dispose());

const render = async () => {
  const result = await ws.nxOk(["run", RENDER, "--outputStyle=static"]);
  return { ran: ranTasks(result.all).has(RENDER), hit: cacheHits(result.all).get(RENDER), dockerfile: readFileSync(ws.path(DOCKERFILE), "utf8") };
};

describe("a deep edit of the render executor's code", () => {
  it("is in the render's inputs: the render runs again and writes the new output", async () => {
    const first = await render();
    expect(first.dockerfile).toContain("FROM localhost:5000/opam-staging:");
    expect((await render()).hit, "a second render with no edit replays the first").toBe("local");

    // Stands for any change there that moves what a render writes: here, the staging repository
    // a compiler image starts FROM, set where the executor loads (not where Nx hashes the environment).
    expect(ws.read(DEEP)).not.toContain("OBI_STAGING_REPO");
    ws.write(DEEP, `${ws.read(DEEP)}\nprocess.env.OBI_STAGING_REPO ||= "localhost:5000/deep-edit";\n`);
    ws.commit("a deep edit");

    const after = await render();
    expect(after.hit, "the render must not be replayed from the cache").toBeUndefined();
    expect(after.dockerfile).toContain("FROM localhost:5000/deep-edit:");
  });
});
