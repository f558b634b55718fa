/**
 * A render's cache key holds every module its executor loads, however deep:
 * through the real nx binary, an edit to a module the render executor reaches
 * only through two imports (render.ts → settings.ts → libs/docker/src/index.ts)
 * that changes what the render writes makes the render miss the cache and
 * write the new output, instead of replaying the old one. It prints the row of
 * the README's edit table (the same columns as cache-precision.test.ts).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
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

/** Every render, build and publish output under dist/, by task id. */
function outputs(): Map<string, string> {
  const out = new Map<string, string>();
  const root = ws.path("dist/images");
  if (!existsSync(root)) return out;
  for (const image of readdirSync(root)) {
    for (const file of readdirSync(join(root, image))) {
      if (file === "render") {
        const dir = join(root, image, "render");
        out.set(`${image}:render`, readdirSync(dir).sort().map((f) => readFileSync(join(dir, f), "utf8")).join("\0"));
      }
      const target = /^(build-[a-z0-9]+)\.json$/.exec(file)?.[1] ?? (file === "publish.json" ? "publish" : undefined);
      if (target) out.set(`${image}:${target}`, readFileSync(join(root, image, file), "utf8"));
    }
  }
  return out;
}

const publishAll = async () => {
  const result = await ws.nxOk(["run-many", "-t", "publish", "--outputStyle=static"]);
  return { ran: ranTasks(result.all), hits: cacheHits(result.all) };
};

describe("a deep edit of the render executor's code", () => {
  it("is in the render's inputs: the render runs again and writes the new output", async () => {
    await publishAll();
    expect(ws.read(DOCKERFILE)).toContain("FROM localhost:5000/opam-staging:");
    expect((await publishAll()).ran.size, "a second run with no edit runs nothing").toBe(0);
    const before = outputs();

    // Stands for any change there that moves what a render writes: here, the staging repository
    // a compiler image starts FROM, set where the executors load (not where Nx hashes the environment).
    expect(ws.read(DEEP)).not.toContain("OBI_STAGING_REPO");
    ws.write(DEEP, `${ws.read(DEEP)}\nprocess.env.OBI_STAGING_REPO ||= "localhost:5000/deep-edit";\n`);
    ws.commit("a deep edit");

    const { ran, hits } = await publishAll();
    expect(hits.get(RENDER), "the render must not be replayed from the cache").toBeUndefined();
    expect(ran).toContain(RENDER);
    expect(ws.read(DOCKERFILE)).toContain("FROM localhost:5000/deep-edit:");

    const after = outputs();
    const changed = [...ran].filter((t) => after.get(t) !== before.get(t));
    const count = (tasks: Iterable<string>, kind: RegExp) => [...tasks].filter((t) => kind.test(t)).length;
    console.log(
      `| a change two imports from the render executor (\`${DEEP}\`) that moves a Dockerfile | ${count(ran, /:build-/)} | ${count(changed, /:build-/)} | ${count(ran, /:publish$/)} | ${count(changed, /:publish$/)} |` +
        ` renders: ${count(ran, /:render$/)} ran, ${count(changed, /:render$/)} with new output`,
    );
  });
});
