/**
 * Crashes and concurrent runs, with the real nx binary, engine and registry
 * (docker's and our requests pass through the fault proxy, which injects
 * nothing here: it tells the test when a push or a publish is under way).
 * nx is killed with SIGKILL, its whole process group, during a build, a push
 * and a publish; the next run must converge and leave no secret behind. Two
 * workspaces publish the same matrix at once. Records the registry does not
 * back are not trusted. Children see only the environment they need.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, execaSync } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { filesHolding } from "../secrets";
import { formatReference, locksDir, parseReference, pinned, secretsParent } from "../../../libs/docker/src";
import { createDockerWorkspace, dockerFixture, makeTestBase, requireDockerEnvironment, testAlpine, type DockerEnvironment } from "../docker";
import { startFaultProxy, type FaultProxy, type SeenRequest } from "../fault-proxy";
import { expectedTags, publishedProblems, watchTags } from "../published";
import { PROJECT_ROOT, type Fixture, type Workspace } from "../workspace";

let env: DockerEnvironment;
let proxy: FaultProxy;
let path: string;
let fixture: Fixture;
const workspaces: Workspace[] = [];
/** A `docker` first on PATH that logs each build and the environment of every call, then runs the real one. */
let shim: { dir: string; path: string; builds: () => string[]; envs: () => string };

const SECRET_ENV = {
  NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: "nx-cache-token-must-not-leak",
  NX_CLOUD_ACCESS_TOKEN: "nx-cloud-token-must-not-leak",
  CI_JOB_TOKEN: "ci-token-must-not-leak",
};

function makeShim() {
  const dir = mkdtempSync(join(tmpdir(), "obi-crash-shim-"));
  const docker = execaSync("sh", ["-c", "command -v docker"]).stdout.trim();
  writeFileSync(join(dir, "builds.log"), "");
  writeFileSync(join(dir, "env.log"), "");
  writeFileSync(
    join(dir, "docker"),
    `#!/bin/sh\nenv >>'${dir}/env.log'\necho ---- >>'${dir}/env.log'\nif [ "$1" = buildx ] && [ "$2" = build ]; then echo "$*" >>'${dir}/builds.log'; fi\nexec '${docker}' "$@"\n`,
  );
  chmodSync(join(dir, "docker"), 0o755);
  return {
    dir,
    path: `${dir}:${process.env.PATH ?? ""}`,
    builds: () => readFileSync(join(dir, "builds.log"), "utf8").split("\n").filter(Boolean).map((l) => /--tag (\S+)/.exec(l)?.[1] ?? l),
    envs: () => readFileSync(join(dir, "env.log"), "utf8"),
  };
}

function newWorkspace(): Workspace {
  const ws = createDockerWorkspace(env, `${proxy.registry}/${path}`, fixture, { stagingRepo: `${proxy.registry}/${path}/staging` });
  workspaces.push(ws);
  return ws;
}

const repos = (name: string) => ({ OBI_STAGING_REPO: `${proxy.registry}/${path}/${name}-staging`, OBI_PUBLIC_REPO: `${proxy.registry}/${path}/${name}-opam` });
const direct = (ref: string) => ref.replace(proxy.registry, env.registry);
const NX = join(PROJECT_ROOT, "node_modules/.bin/nx");

/** Runs nx in a process group of its own, as a terminal or CI would. */
function startNx(ws: Workspace, args: string[], extra: Record<string, string>) {
  return execa(NX, args, {
    cwd: ws.dir,
    reject: false,
    all: true,
    detached: true,
    env: { NX_DAEMON: "false", NX_NO_CLOUD: "true", NX_TUI: "false", FORCE_COLOR: "0", NX_CACHE_DIRECTORY: ws.path(".nx/cache"), PATH: shim.path, ...SECRET_ENV, ...extra },
  });
}

const publishArgs = ["run-many", "-t", "publish", "--exclude=archive", "--outputStyle=static"];


const secretNeedles = () => [env.credentials.password, Buffer.from(`${env.username}:${env.credentials.password}`).toString("base64")];

beforeAll(async () => {
  env = requireDockerEnvironment();
  proxy = await startFaultProxy(env.registry);
  path = `c${Date.now().toString(36)}`;
  await makeTestBase(env, `${env.registry}/${path}/base/alpine:3.23`);
  const prefix = `${proxy.registry}/${path}`;
  fixture = dockerFixture([testAlpine(prefix, "alpine-3.23", "3.23", "3.23", { amd64: "", arm64: "" }, { default: true, aliases: ["alpine"] })], { releases: ["5.4.1"], variants: [] });
  shim = makeShim();
}, 600_000);

afterAll(async () => {
  for (const ws of workspaces) ws.dispose();
  await proxy?.stop();
});

describe("SIGKILL of nx", () => {
  const phases: { phase: string; when: (request: SeenRequest, output: string) => boolean }[] = [
    { phase: "a build", when: (_r, output) => /\(amd64\) \| #\d+ \[\d\/\d\] RUN/.test(output) },
    { phase: "a push", when: (r) => /^(PATCH|PUT)$/.test(r.method) && /-staging\/blobs\/uploads/.test(r.path) },
    { phase: "a publish", when: (r) => r.method === "PUT" && /-opam\/manifests\//.test(r.path) },
  ];

  for (const { phase, when } of phases) {
    it(`during ${phase}: the next run converges, no tag ever lists part of its arches, no secret is left`, async () => {
      const ws = newWorkspace();
      const name = phase.replace(/\W+/g, "");
      const runEnv = repos(name);
      // The tags and arches to watch: a dry render says them without touching the registry.
      await ws.nxOk(["run-many", "-t", "render", "--exclude=archive", "--outputStyle=static"], runEnv);
      const expected = new Map([...expectedTags(ws)].map(([tag, images]) => [tag, images[0]?.arches ?? []]));
      const watcher = watchTags(env.client, direct(runEnv.OBI_PUBLIC_REPO), expected);
      // Other checkouts on a shared machine may hold the same registry password in files of their own: only new ones count.
      const holdingBefore = new Set([secretsParent(), tmpdir()].flatMap((place) => filesHolding(place, secretNeedles())));
      const child = startNx(ws, publishArgs, runEnv);
      let output = "";
      let killed = false;
      const kill = () => {
        if (killed || child.pid === undefined) return;
        killed = true;
        process.kill(-child.pid, "SIGKILL");
      };
      proxy.onRequest((r) => when(r, output) && kill());
      child.all?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (when({ method: "", path: "", agent: "" }, output)) kill();
      });
      const first = await child;
      proxy.onRequest(undefined);
      expect(killed, `nx finished before ${phase} was seen:\n${output.slice(-2000)}`).toBe(true);
      expect(first.signal).toBe("SIGKILL");
      const again = await ws.nx(publishArgs, { PATH: shim.path, ...SECRET_ENV, ...runEnv });
      expect(again.exitCode, again.all.slice(-3000)).toBe(0);
      expect(await publishedProblems(ws, env.client, direct(runEnv.OBI_PUBLIC_REPO), direct)).toEqual([]);
      expect(await watcher.stop()).toEqual([]);
      // The killed run's secret folder was swept by the next one; nothing else holds the password.
      for (const place of [secretsParent(), tmpdir(), ws.dir]) {
        expect(filesHolding(place, secretNeedles()).filter((file) => !holdingBefore.has(file)), place).toEqual([]);
      }
    });
  }
});

describe("SIGTERM or SIGINT to nx's process group", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`${signal} during a build leaves no docker config holding the password and no lock, before any other run`, async () => {
      const ws = newWorkspace();
      const runEnv = repos(`sig${signal.toLowerCase()}`);
      const holdingBefore = new Set([secretsParent(), tmpdir()].flatMap((place) => filesHolding(place, secretNeedles())));
      const locksBefore = new Set(existsSync(locksDir()) ? readdirSync(locksDir()) : []);
      const child = startNx(ws, publishArgs, runEnv);
      let output = "";
      let sent = false;
      child.all?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (!sent && child.pid !== undefined && /\(amd64\) \| #\d+ \[\d\/\d\] RUN/.test(output)) {
          sent = true;
          process.kill(-child.pid, signal);
        }
      });
      const first = await child;
      expect(sent, `nx finished before a build was seen:\n${output.slice(-2000)}`).toBe(true);
      expect(first.exitCode === 0 && first.signal === undefined).toBe(false);
      // Whatever nx's workers were doing, their exit and signal handlers ran before they ended.
      await new Promise((r) => setTimeout(r, 1_000));
      for (const place of [secretsParent(), tmpdir(), ws.dir]) {
        expect(filesHolding(place, secretNeedles()).filter((file) => !holdingBefore.has(file)), place).toEqual([]);
      }
      const locksAfter = (existsSync(locksDir()) ? readdirSync(locksDir()) : []).filter((name) => !locksBefore.has(name));
      expect(locksAfter).toEqual([]);
    });
  }
});

describe("records the registry does not hold", () => {
  it("are not built FROM nor published; the error names the record and the command that redoes it", async () => {
    const ws = newWorkspace();
    const runEnv = repos("records");
    const first = await ws.nx(publishArgs, { PATH: shim.path, ...runEnv });
    expect(first.exitCode, first.all.slice(-3000)).toBe(0);
    // The registry loses the opam image's amd64 build (and its tags), and another run moves its staging tag.
    const record = JSON.parse(ws.read("dist/images/alpine-3.23-opam/build-amd64.json")) as { digest: string; stagingTag: string };
    const staging = direct(record.stagingTag);
    expect(await env.client.deleteManifest(pinned(parseReference(staging), record.digest))).toBe(true);
    const other = await env.client.getManifest(staging.replace(/amd64$/, "arm64"));
    if (!other) throw new Error("the arm64 build is missing");
    await env.client.putManifest(staging, other);
    // The compiler image's build is lost too, so it has to be built again, FROM its parent's record.
    const childRecord = JSON.parse(ws.read("dist/images/alpine-3.23-ocaml-5.4/build-amd64.json")) as { digest: string };
    expect(await env.client.deleteManifest(pinned(parseReference(staging), childRecord.digest))).toBe(true);

    const child = await ws.nx(["run", "alpine-3.23-ocaml-5.4:build-amd64", "--skip-nx-cache", "--excludeTaskDependencies", "--outputStyle=static"], { PATH: shim.path, ...runEnv });
    expect(child.exitCode).not.toBe(0);
    expect(child.all).toContain(
      `alpine-3.23-ocaml-5.4 (amd64): build failed: the record of alpine-3.23-opam (amd64) names ${formatReference(pinned(parseReference(record.stagingTag), record.digest))}, which the registry does not hold; build it again: npx nx run alpine-3.23-opam:build-amd64 --skip-nx-cache`,
    );
    const publish = await ws.nx(["run", "alpine-3.23-opam:publish", "--skip-nx-cache", "--excludeTaskDependencies", "--outputStyle=static"], { PATH: shim.path, ...runEnv });
    expect(publish.exitCode).not.toBe(0);
    expect(publish.all).toMatch(/alpine-3\.23-opam: publish failed: the record of alpine-3\.23-opam \(amd64\) names \S+@sha256:\w+, which the registry does not hold/);
    // Doing what the message says converges.
    const redo = await ws.nx([...publishArgs, "--skip-nx-cache"], { PATH: shim.path, ...runEnv });
    expect(redo.exitCode, redo.all.slice(-3000)).toBe(0);
    expect(await publishedProblems(ws, env.client, direct(runEnv.OBI_PUBLIC_REPO), direct)).toEqual([]);
  });
});

describe("two workspaces publishing the same matrix to the same registry at once", () => {
  it("both finish, the tags are right, and each build is done once", async () => {
    const [a, b] = [newWorkspace(), newWorkspace()];
    const runEnv = repos("together");
    const before = shim.builds().length;
    const [ra, rb] = await Promise.all([a, b].map((ws) => ws.nx(publishArgs, { PATH: shim.path, ...SECRET_ENV, ...runEnv })));
    expect(ra?.exitCode, ra?.all.slice(-3000)).toBe(0);
    expect(rb?.exitCode, rb?.all.slice(-3000)).toBe(0);
    const built = shim.builds().slice(before).map((t) => parseReference(t).tag).sort();
    expect(built).toEqual(["alpine-3.23-ocaml-5.4-amd64", "alpine-3.23-ocaml-5.4-arm64", "alpine-3.23-opam-amd64", "alpine-3.23-opam-arm64"]);
    // Both workspaces' records agree with the registry: each sees the same builds published.
    for (const ws of [a, b]) expect(await publishedProblems(ws, env.client, direct(runEnv.OBI_PUBLIC_REPO), direct)).toEqual([]);
  });
});

describe("the environment of docker", () => {
  it("holds none of the secrets nx was started with, over every docker call of these runs", () => {
    const envs = shim.envs();
    expect(envs.split("----").length).toBeGreaterThan(10);
    for (const [name, value] of Object.entries(SECRET_ENV)) {
      expect(envs.includes(name), name).toBe(false);
      expect(envs.includes(value), name).toBe(false);
    }
    expect(envs).toMatch(/^DOCKER_CONFIG=/m);
  });
});
