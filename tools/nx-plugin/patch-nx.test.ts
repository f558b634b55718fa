import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MARK, patch } from "./patch-nx.js";

/** A stand-in for Nx's batch worker, in the shape the patch looks for (not Nx's code). */
const WORKER = [
  "async function runTasks(tasks) {",
  "    const input = {};",
  "    for (const task of tasks) {",
  "        input[task.id] = combineOptionsForExecutor(task);",
  "    }",
  "    try {",
  "        return await run(input);",
  "    }",
  "    catch (e) {",
  "        console.error(e.message);",
  "    }",
  "}",
  "",
].join("\n");

describe("patch-nx", () => {
  let root = "";
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function install(worker: string): string {
    root = mkdtempSync(join(tmpdir(), "obi-patch-nx-"));
    const nx = join(root, "node_modules/nx");
    mkdirSync(join(nx, "dist/src/tasks-runner/batch"), { recursive: true });
    writeFileSync(join(nx, "package.json"), '{ "name": "nx", "version": "24.0.0" }\n');
    const file = join(nx, "dist/src/tasks-runner/batch/run-batch.js");
    writeFileSync(file, worker);
    return file;
  }

  it("moves the try before the options check, once, and the result still parses", () => {
    const file = install(WORKER);
    expect(patch(root)).toMatch(/: patched/);
    const patched = readFileSync(file, "utf8");
    expect(patched.indexOf(`try { ${MARK}`)).toBeLessThan(patched.indexOf("combineOptionsForExecutor"));
    expect(patched.match(/try \{/g)).toHaveLength(1);
    expect(() => new Function(patched)).not.toThrow();
    expect(patch(root)).toMatch(/: already patched$/);
    expect(readFileSync(file, "utf8")).toBe(patched);
  });

  it("leaves another shape alone, saying so", () => {
    const moved = WORKER.replace("    for (const task of tasks) {", "    try {\n    for (const task of tasks) {").replace(/\n    try \{\n        return/, "\n        return");
    const file = install(moved);
    expect(patch(root)).toMatch(/not where Nx 24\.0\.0 has it; not patched$/);
    expect(readFileSync(file, "utf8")).toBe(moved);
  });
});
