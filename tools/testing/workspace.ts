/**
 * Throw-away Nx workspaces for tests: this project's code and dependencies
 * with a small images/ matrix of the test's own, in a fresh git repository,
 * driven through the real `nx` binary.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execaSync, execa } from "execa";

export const PROJECT_ROOT = join(__dirname, "../..");

export interface FixtureDistro {
  readonly name: string;
  readonly json: Record<string, unknown>;
}

export interface Fixture {
  readonly distros: readonly FixtureDistro[];
  readonly compilers: Record<string, unknown>;
  readonly opam: Record<string, unknown>;
  readonly opamRepository: Record<string, unknown>;
}

const COMMIT = (n: number) => n.toString(16).padStart(40, "0");

/** A small matrix: a tier-1 default Debian on two arches, a tier-2 Alpine, two compilers, one variant. */
export function smallFixture(): Fixture {
  return {
    distros: [
      {
        name: "debian-13",
        json: {
          family: "debian",
          version: "13",
          title: "Debian 13",
          base: { image: "debian", tag: "13" },
          arches: { amd64: "", arm64: "" },
          tier: 1,
          aliases: ["debian"],
          default: true,
          bubblewrap: "0.11.0",
          gcc: "14.2",
        },
      },
      {
        name: "alpine-3.23",
        json: {
          family: "alpine",
          version: "3.23",
          title: "Alpine 3.23",
          base: { image: "alpine", tag: "3.23" },
          arches: { amd64: "" },
          tier: 2,
          aliases: ["alpine"],
          bubblewrap: "0.11.0",
          gcc: "15.2",
        },
      },
    ],
    compilers: {
      releases: ["4.14.2", "5.4.1"],
      variants: [{ options: ["flambda"], when: [{ series: ">=4.03", arches: ["amd64"] }] }],
    },
    opam: {
      url: "https://github.com/ocaml/opam",
      bootstrap: "master",
      windowsDefault: "master",
      builds: [
        { branch: "2.5", commit: COMMIT(25) },
        { branch: "master", commit: COMMIT(1), publicName: "opam-dev" },
      ],
    },
    opamRepository: { url: "https://github.com/ocaml/opam-repository.git", branch: "master", commit: COMMIT(2) },
  };
}

export interface NxResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly all: string;
  /** Killed at the bound `nx()` was given. */
  readonly timedOut: boolean;
}

export class Workspace {
  constructor(readonly dir: string) {}

  path(file: string): string {
    return join(this.dir, file);
  }

  read(file: string): string {
    return readFileSync(this.path(file), "utf8");
  }

  write(file: string, text: string): void {
    mkdirSync(dirname(this.path(file)), { recursive: true });
    writeFileSync(this.path(file), text);
  }

  editJson(file: string, change: (json: Record<string, unknown>) => void): void {
    const json = JSON.parse(this.read(file)) as Record<string, unknown>;
    change(json);
    this.write(file, JSON.stringify(json, null, 2) + "\n");
  }

  git(...args: string[]): string {
    return execaSync("git", args, { cwd: this.dir }).stdout;
  }

  commit(message: string): void {
    this.git("add", "-A");
    this.git("commit", "-q", "--allow-empty", "-m", message);
  }

  /**
   * Runs the real nx binary of this project, without daemon or cloud, with a
   * task cache of this workspace's own (Nx 24 otherwise shares one per user
   * between every checkout of a repository).
   */
  async nx(args: readonly string[], env: Record<string, string> = {}, opts: { timeoutMs?: number } = {}): Promise<NxResult> {
    const result = await execa(join(PROJECT_ROOT, "node_modules/.bin/nx"), [...args], {
      cwd: this.dir,
      reject: false,
      all: true,
      // A test of something that once hung bounds its nx: killed past the bound, it fails.
      ...(opts.timeoutMs === undefined ? {} : { timeout: opts.timeoutMs, forceKillAfterDelay: 2000 }),
      env: {
        NX_DAEMON: "false",
        NX_NO_CLOUD: "true",
        NX_TUI: "false",
        FORCE_COLOR: "0",
        NX_VERBOSE_LOGGING: "false",
        NX_CACHE_DIRECTORY: this.path(".nx/cache"),
        ...env,
      },
    });
    return { exitCode: result.exitCode ?? 1, stdout: String(result.stdout), stderr: String(result.stderr), all: String(result.all), timedOut: result.timedOut };
  }

  async nxOk(args: readonly string[], env: Record<string, string> = {}): Promise<NxResult> {
    const result = await this.nx(args, env);
    if (result.exitCode !== 0) throw new Error(`nx ${args.join(" ")} failed (${result.exitCode}):\n${result.all.slice(-4000)}`);
    return result;
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function writeMatrix(ws: Workspace, fixture: Fixture): void {
  for (const d of fixture.distros) ws.write(`images/${d.name}/image.json`, JSON.stringify(d.json, null, 2) + "\n");
  ws.write("images/compilers.json", JSON.stringify(fixture.compilers, null, 2) + "\n");
  ws.write("images/opam.json", JSON.stringify(fixture.opam, null, 2) + "\n");
  ws.write("images/opam-repository.json", JSON.stringify(fixture.opamRepository, null, 2) + "\n");
}

/**
 * A new workspace with this project's code, the given matrix (or the real
 * images/ when none) and plugin options, committed on branch main.
 */
export function createWorkspace(opts: { fixture?: Fixture; pluginOptions?: Record<string, unknown> } = {}): Workspace {
  const ws = new Workspace(mkdtempSync(join(tmpdir(), "obi-ws-")));
  // .env: Nx reads it at start (it turns plugin isolation off; see the README). The lockfile: the
  // packages a target's externalDependencies name are the graph's npm nodes, made from it.
  for (const part of ["package.json", "package-lock.json", "tsconfig.base.json", ".env", "libs", "tools"]) {
    cpSync(join(PROJECT_ROOT, part), ws.path(part), { recursive: true });
  }
  symlinkSync(join(PROJECT_ROOT, "node_modules"), ws.path("node_modules"));
  if (opts.fixture) writeMatrix(ws, opts.fixture);
  else cpSync(join(PROJECT_ROOT, "images"), ws.path("images"), { recursive: true });
  const nxJson = JSON.parse(readFileSync(join(PROJECT_ROOT, "nx.json"), "utf8")) as { plugins: { options?: unknown }[] };
  const plugin = nxJson.plugins[0];
  if (plugin) plugin.options = { ...(plugin.options as object), ...(opts.pluginOptions ?? {}) };
  ws.write("nx.json", JSON.stringify(nxJson, null, 2) + "\n");
  ws.write(".gitignore", "node_modules\ndist\n.nx\n");
  ws.git("init", "-q", "-b", "main");
  ws.git("config", "user.email", "test@example.com");
  ws.git("config", "user.name", "Test");
  ws.commit("initial");
  return ws;
}

/** Per task, whether Nx replayed it from a cache, from `nx run-many --outputStyle=static` output. */
export function cacheHits(output: string): Map<string, "local" | "remote"> {
  const hits = new Map<string, "local" | "remote">();
  for (const m of output.matchAll(/^> nx run (\S+)\s+\[(local|remote) cache\]/gm)) hits.set(m[1] as string, m[2] as "local" | "remote");
  return hits;
}

/** Tasks Nx ran (not from cache) in `--outputStyle=static` output: unbatched ones print a header without a cache mark. */
export function ranTasks(output: string): Set<string> {
  const ran = new Set<string>();
  for (const m of output.matchAll(/^> nx run (\S+?)\s*$/gm)) ran.add(m[1] as string);
  return ran;
}
