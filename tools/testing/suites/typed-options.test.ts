/**
 * Typed options, through the real nx binary: `nx run … --help` shows each option's type and
 * choices, and a value of the wrong type is refused in one line naming the option and the
 * value, in a batch (the worker Nx 24.0.0 let die on it: tools/nx-plugin/patch-nx.js) and
 * outside one, with a non-zero exit and within a bound.
 */
import { existsSync, rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, smallFixture, type Workspace } from "../workspace";

/** Each run is a few seconds; one that hung (a dead batch worker) is killed here, and fails. */
const BOUND_MS = 90_000;

/** The lines that quote a value: not Nx's `> nx run … --dryRun=maybe` headers. */
const linesQuoting = (output: string, value: string): string[] => output.split("\n").filter((l) => l.includes(`'${value}'`) && !l.trimStart().startsWith(">"));

/**
 * `--help`'s options, by name: each one's text, its columns (description, type, choices) run
 * together, since cliui wraps them side by side at 80 columns.
 */
function options(help: string): Map<string, string> {
  const text = help.slice(help.indexOf("Options:")).replace(/\s+/g, " ");
  return new Map(text.split(/ (?=--[A-Za-z]+ )/).slice(1).map((part) => [/^--([A-Za-z]+)/.exec(part)?.[1] ?? "", part]));
}
/** The type `--help` shows for an option: the first bracket after its name. */
const typeOf = (help: Map<string, string>, option: string) => /(\[[a-z,]+\])/.exec(help.get(option) ?? "")?.[1];
/** The choices it lists, in order. */
const choicesOf = (help: Map<string, string>, option: string) => {
  const text = help.get(option) ?? "";
  return text.includes("[choices:") ? [...text.slice(text.indexOf("[choices:")).matchAll(/"([^"]+)"/g)].map((m) => m[1]) : [];
};

describe("typed options", () => {
  let ws: Workspace;
  beforeAll(() => {
    ws = createWorkspace({ fixture: smallFixture(), pluginOptions: { dryRun: true } });
  });
  afterAll(() => ws.dispose());

  it("are shown with their types and choices in nx run --help", async () => {
    const build = options((await ws.nxOk(["run", "debian-13-opam:build-amd64", "--help"])).stdout);
    expect(typeOf(build, "dryRun")).toBe("[boolean]");
    expect(typeOf(build, "builtinFrontend")).toBe("[boolean]");
    expect(typeOf(build, "rebuildPeriodDays")).toBe("[integer]");
    expect(typeOf(build, "os")).toBe("[string]");
    expect(typeOf(build, "builder")).toBe("[string,object]");
    expect(choicesOf(build, "os")).toEqual(["linux", "windows"]);
    expect(choicesOf(build, "arch")).toEqual(["amd64", "arm64", "ppc64le", "s390x", "riscv64"]);
    for (const [name, text] of build) expect(text, name).not.toContain("[undefined]");
    const status = options((await ws.nxOk(["run", "images:status", "--help"])).stdout);
    expect(typeOf(status, "port")).toBe("[integer]");
    expect(typeOf(status, "serve")).toBe("[boolean]");
    for (const [name, text] of status) expect(text, name).not.toContain("[undefined]");
  });

  // The line is the batch worker's own (bare) in a batch, and Nx's error (after its NX badge) outside one.
  for (const [mode, flag, badge] of [["in a batch", "--batch", ""], ["outside a batch", "--batch=false", " NX   "]] as const) {
    it(`refuses a value of the wrong type ${mode} in one line naming the option and the value, and builds nothing`, async () => {
      const cases = [
        ["dryRun", "maybe", "should be a 'boolean'."],
        ["rebuildPeriodDays", "weekly", "should be a 'integer'."],
        ["os", "macos", "should be one of linux,windows."],
      ] as const;
      for (const [option, value, says] of cases) {
        const arg = `--${option}=${value}`;
        const result = await ws.nx(["run", "debian-13-opam:build-amd64", arg, flag, "--outputStyle=static", "--skip-nx-cache"], {}, { timeoutMs: BOUND_MS });
        expect(result.timedOut, `${arg} ${flag} hung:\n${result.all.slice(-1500)}`).toBe(false);
        expect(result.exitCode, arg).not.toBe(0);
        // A dead batch worker says only this, and the option is named nowhere.
        expect(result.all).not.toMatch(/UnhandledPromiseRejection|#<SchemaError>/);
        expect(linesQuoting(result.all, value), result.all.slice(-1500)).toEqual([`${badge}Property '${option}' does not match the schema. '${value}' ${says}`]);
        expect(existsSync(ws.path("dist/dry-run/debian-13-opam/build-amd64.json")), arg).toBe(false);
      }
      // The same options, well typed, still run: --dryRun=true is read as the boolean.
      const ok = await ws.nx(["run", "debian-13-opam:build-amd64", "--dryRun=true", "--rebuildPeriodDays=3", flag, "--outputStyle=static", "--skip-nx-cache"], {}, { timeoutMs: BOUND_MS });
      expect(ok.exitCode, ok.all.slice(-1500)).toBe(0);
      expect(ok.all).toMatch(/debian-13-opam \(amd64\): would build/);
      rmSync(ws.path("dist"), { recursive: true, force: true });
    });
  }
});
