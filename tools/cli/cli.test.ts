/**
 * Every command-line entry point, spawned for real: --help, one-line refusals
 * (exit 2), a quiet exit when stdout's reader goes away; and what plan prints.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { loadMatrix } from "../../libs/matrix/src";
import { DEFAULT_GRACE_DAYS, makePlan, printReference } from "../../libs/plan/src";
import { UPSTREAM_REPOSITORIES } from "../../libs/tags/src";
import { parseCommandLine } from "./cli";
import { workspacePluginOptions } from "../nx-plugin/src/config";
import { PROJECT_ROOT } from "../testing/workspace";

async function run(file: string, args: readonly string[]) {
  const result = await execa("node", ["-r", "@swc-node/register", file, ...args], { cwd: PROJECT_ROOT, reject: false });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** Each entry point, an option it has, a bad value for it, and a flag it does not have. */
const ENTRY_POINTS = [
  { file: "tools/cli/plan.ts", option: "--format", bad: "xml" },
  { file: "tools/cli/schemas.ts", option: "--check", bad: "yes" },
  { file: "tools/bench/plan.ts", option: "--runs", bad: "many" },
  { file: "tools/bench/nx.ts", option: "--runs", bad: "0" },
  { file: "tools/bench/build.ts", option: "--images", bad: "-3" },
] as const;

describe.each(ENTRY_POINTS)("$file", ({ file, option, bad }) => {
  it("answers --help with its usage and options", async () => {
    const result = await run(file, ["--help"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^usage: /m);
    expect(result.stdout).toMatch(new RegExp(`^  ${option}\\b`, "m"));
    expect(result.stderr).toBe("");
  });

  it("refuses an unknown flag in one line naming it, exit 2", async () => {
    const result = await run(file, ["--frobnicate"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trimEnd().split("\n")).toEqual([expect.stringMatching(/: unknown option "--frobnicate"/)]);
    expect(result.stdout).toBe("");
  });

  it("refuses a bad value in one line naming the flag and the value, exit 2", async () => {
    const result = await run(file, [`${option}=${bad}`]);
    expect(result.exitCode).toBe(2);
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(option);
    expect(lines[0]).toContain(`"${bad}"`);
  });
});

/**
 * Every npm script of package.json, as a user runs it. Scripts whose flags are another
 * tool's (which answers --help itself) and scripts that take no flags are listed here,
 * the one place; every other script, a new one included, must answer --help, refuse a
 * bad flag in one line with exit 2, and survive `| head`.
 */
const FLAGS_OF_ANOTHER_TOOL: Readonly<Record<string, string>> = { test: "vitest", "test:unit": "vitest", "test:integration": "vitest", "test:browser": "vitest", typecheck: "tsc" };
const NO_FLAGS: readonly string[] = ["test:ci"];
const SCRIPTS = Object.keys((JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts);
const OURS = SCRIPTS.filter((name) => !(name in FLAGS_OF_ANOTHER_TOOL) && !NO_FLAGS.includes(name));

const npmRun = async (script: string, args: readonly string[], pipe = "") => {
  const line = `set -o pipefail; npm run -s ${script} -- ${args.join(" ")}${pipe}`;
  const result = await execa("bash", ["-c", line], { cwd: PROJECT_ROOT, reject: false });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
};

describe("every npm script", () => {
  it("is one of ours, or listed as taking another tool's flags or none", () => {
    expect(OURS.length).toBeGreaterThan(10);
    for (const name of [...Object.keys(FLAGS_OF_ANOTHER_TOOL), ...NO_FLAGS]) expect(SCRIPTS, `${name} is listed but not a script`).toContain(name);
  });

  describe.each(OURS)("npm run %s", (script) => {
    it("answers --help with its usage, and survives | head", async () => {
      const result = await npmRun(script, ["--help"]);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^usage: /m);
      expect(result.stdout).toContain(`npm run`);
      expect(result.stderr).toBe("");
      const piped = await npmRun(script, ["--help"], " | head -n 1");
      expect(piped.exitCode, piped.stderr).toBe(0);
      expect(piped.stdout.split("\n")).toHaveLength(1);
      expect(piped.stderr).toBe("");
    });

    it("refuses an unknown flag in one line naming it, exit 2, before doing anything", async () => {
      const result = await npmRun(script, ["--frobnicate"]);
      expect(result.exitCode).toBe(2);
      expect(result.stderr.trimEnd().split("\n")).toEqual([expect.stringMatching(/unknown option .*--frobnicate/i)]);
      expect(result.stdout).toBe("");
    });
  });

  describe.each(Object.entries(FLAGS_OF_ANOTHER_TOOL))("npm run %s", (script, tool) => {
    it(`passes --help to ${tool}`, async () => {
      const result = await npmRun(script, ["--help"]);
      expect(result.exitCode).toBe(0);
      expect(result.stdout.toLowerCase()).toContain(tool);
    });
  });
});

describe("plan", () => {
  const plan = makePlan(loadMatrix(PROJECT_ROOT), { repositories: UPSTREAM_REPOSITORIES, pins: "commit", retirement: { now: new Date(), graceDays: DEFAULT_GRACE_DAYS } });

  it("prints a summary by default: a row per distro with its arches and counts, then the totals", async () => {
    const result = await run("tools/cli/plan.ts", []);
    expect(result.exitCode).toBe(0);
    const rows = new Map(result.stdout.split("\n").map((line) => [line.split(/\s+/)[0] ?? "", line] as const));
    for (const distro of new Set(plan.images.map((i) => i.distro))) {
      const images = plan.images.filter((i) => i.distro === distro);
      const builds = images.flatMap((i) => i.builds);
      const counts = [images.length, builds.length, images.flatMap((i) => i.manifests).length].join("\\s+");
      expect(rows.get(distro), distro).toMatch(new RegExp(`\\s${counts}$`));
      for (const arch of new Set(builds.map((b) => b.arch))) expect(rows.get(distro), distro).toMatch(new RegExp(`\\s${arch}\\s`));
    }
    const totals = [plan.images.length, plan.images.flatMap((i) => i.builds).length, plan.images.flatMap((i) => i.manifests).length];
    expect(rows.get("total")).toMatch(new RegExp(`\\s${totals.join("\\s+")}$`));
  });

  it("prints every Dockerfile with --format=dockerfiles: with upstream's repositories, the committed plan, byte for byte", async () => {
    const result = await run("tools/cli/plan.ts", ["--format=dockerfiles", `--staging=${UPSTREAM_REPOSITORIES.staging}`, `--public=${UPSTREAM_REPOSITORIES.public}`]);
    expect(result.stdout + "\n" === readFileSync(join(PROJECT_ROOT, "images/builds.expected"), "utf8")).toBe(true);
  });

  it("prints the upstream dump with --format=reference (space-separated values work too)", async () => {
    const result = await run("tools/cli/plan.ts", ["--format", "reference"]);
    const reference = printReference(makePlan(loadMatrix(PROJECT_ROOT), { repositories: UPSTREAM_REPOSITORIES, pins: "branch" }));
    expect(result.stdout + "\n" === reference).toBe(true);
  });

  it("plans for the pipeline's repositories by default (the plugin's options in nx.json), and says so in --help", async () => {
    const { stagingRepo, publicRepo } = workspacePluginOptions(PROJECT_ROOT);
    const help = (await run("tools/cli/plan.ts", ["--help"])).stdout;
    expect(help).toMatch(new RegExp(`^  --staging=.*${stagingRepo}`, "m"));
    expect(help).toMatch(new RegExp(`^  --public=.*${publicRepo}`, "m"));
    const images = JSON.parse((await run("tools/cli/plan.ts", ["--format=json"])).stdout) as { manifests: { tag: string }[] }[];
    expect(images[0]?.manifests[0]?.tag.startsWith(`${publicRepo}:`)).toBe(true);
  });

  it("npm run plan:update writes exactly the committed images/builds.expected", async () => {
    const root = mkdtempSync(join(tmpdir(), "obi-plan-"));
    try {
      cpSync(join(PROJECT_ROOT, "images"), join(root, "images"), { recursive: true, filter: (src) => !src.endsWith("builds.expected") });
      const result = await execa("npm", ["run", "-s", "plan:update", "--", `--root=${root}`], { cwd: PROJECT_ROOT, reject: false });
      expect(result.exitCode, String(result.stderr)).toBe(0);
      const written = readFileSync(join(root, "images/builds.expected"), "utf8");
      expect(written === readFileSync(join(PROJECT_ROOT, "images/builds.expected"), "utf8")).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("npm run schemas neither reads nor writes through a link in images/schema/ (issue 16)", async () => {
    const root = mkdtempSync(join(tmpdir(), "obi-schemas-"));
    const outside = mkdtempSync(join(tmpdir(), "obi-schemas-outside-"));
    try {
      cpSync(join(PROJECT_ROOT, "images"), join(root, "images"), { recursive: true });
      symlinkSync(join(PROJECT_ROOT, "node_modules"), join(root, "node_modules"));
      writeFileSync(join(outside, "target"), "not a schema\n");
      rmSync(join(root, "images/schema/image.schema.json"));
      symlinkSync(join(outside, "target"), join(root, "images/schema/image.schema.json"));
      const result = await execa("node", ["-r", "@swc-node/register", join(PROJECT_ROOT, "tools/cli/schemas.ts")], { cwd: root, reject: false });
      expect(result.exitCode).toBe(1);
      expect(String(result.stderr).trimEnd().split("\n")).toEqual(["images/schema/image.schema.json: a symbolic link; images/ holds regular files and folders only"]);
      expect(readFileSync(join(outside, "target"), "utf8")).toBe("not a schema\n");
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("refuses a repository option that is not an image repository, in one line, before planning", async () => {
    // `--staging=` once gave `FROM :alpine-…` (issue 12).
    for (const [flag, value] of [["--staging", ""], ["--public", "Not A Repo"], ["--staging", "ocaml/opam:latest"]] as const) {
      const result = await run("tools/cli/plan.ts", ["--format=dockerfiles", `${flag}=${value}`]);
      expect(result.exitCode, `${flag}=${value}`).toBe(2);
      expect(result.stderr.trimEnd().split("\n")).toEqual([expect.stringMatching(new RegExp(`^plan: ${flag}: "${value}" is not an image repository`))]);
      expect(result.stdout).toBe("");
    }
  });

  it("exits quietly when the reader of its output goes away (| head)", async () => {
    const result = await execa("bash", ["-c", "set -o pipefail; npm run -s plan -- --format=dockerfiles | head -n 2"], { cwd: PROJECT_ROOT, reject: false });
    expect(String(result.stdout).split("\n")).toHaveLength(2);
    expect(String(result.stderr)).not.toMatch(/EPIPE|Error/);
    expect(result.exitCode).toBe(0);
  });
});

describe("parseCommandLine", () => {
  const spec = {
    name: "demo",
    usage: "demo [options]",
    summary: "A demo.",
    options: {
      format: { kind: "string", value: "format", choices: ["text", "json"], default: "text", description: "the format" },
      runs: { kind: "count", value: "n", default: 3, description: "how many" },
      quiet: { kind: "flag", description: "say less" },
    },
  } as const;

  it("gives defaults, reads --name=value and --name value", () => {
    expect(parseCommandLine(spec, [])).toEqual({ kind: "run", values: { format: "text", runs: 3, quiet: false } });
    expect(parseCommandLine(spec, ["--format", "json", "--runs=7", "--quiet"])).toEqual({ kind: "run", values: { format: "json", runs: 7, quiet: true } });
  });

  it("words each refusal in one line, with a suggestion for a slip", () => {
    const message = (argv: string[]) => {
      const line = parseCommandLine(spec, argv);
      return line.kind === "error" ? line.message : line.kind;
    };
    expect(message(["--fromat=json"])).toBe('demo: unknown option "--fromat"; did you mean "--format"? (see --help)');
    expect(message(["--format=jsno"])).toBe('demo: --format: "jsno" is not one of text, json; did you mean "json"? (see --help)');
    expect(message(["--format"])).toBe("demo: --format needs a value: --format=<format> (see --help)");
    expect(message(["--quiet=no"])).toBe('demo: --quiet takes no value, got "no" (see --help)');
    expect(message(["--runs=1.5"])).toBe('demo: --runs: "1.5" is not a whole number of at least 1 (see --help)');
    expect(message(["extra"])).toBe('demo: unexpected argument "extra" (see --help)');
    expect(message(["--help", "--bogus"])).toBe("help");
  });
});
