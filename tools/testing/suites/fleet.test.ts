/**
 * The builder fleet, for real: amd64 builds on the local engine, arm64 on a
 * second engine reached through sshd on loopback with a key, s390x (QEMU) on a
 * third over TCP with TLS client certificates (tools/ci/setup-fleet.sh). Each
 * engine is asked what it holds. Then one engine is stopped mid-run, a wrong
 * key is tried, a run is killed, and a site that builds a subset publishes;
 * the keys are looked for everywhere a run leaves things.
 */
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tryParseReference } from "../../../libs/docker/src";
import { createDockerWorkspace, dockerFixture, makeTestBase, requireDockerEnvironment, testAlpine, type DockerEnvironment } from "../docker";
import { imagesOn, requireFleet, secretLines, type Fleet } from "../fleet";
import type { NxResult, Workspace } from "../workspace";

let env: DockerEnvironment;
let fleet: Fleet;
let ws: Workspace;
let prefix: string;
const startedAt = Date.now();
const outputs: string[] = [];

const alpine = (name: string, version: string, arches: Record<string, string>, extra: Record<string, unknown> = {}) =>
  testAlpine(prefix, name, version, version, arches, extra);

async function nx(args: string[], extraEnv: Record<string, string> = {}): Promise<NxResult> {
  const result = await ws.nx([...args, "--outputStyle=static"], extraEnv);
  outputs.push(result.all);
  return result;
}

const platformsOf = async (tag: string) => ((await env.client.platforms(tag)) ?? []).map((e) => `${e.platform?.os}/${e.platform?.architecture}`).sort();
const ours = (images: string[]) => images.filter((i) => i.startsWith(`${prefix}/`)).map((i) => tryParseReference(i)?.tag ?? i).sort();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the batch has started a build (its run record is past "queued"), or the run has ended. */
async function untilStarted(image: string, arch: string, run: Promise<unknown>): Promise<void> {
  const file = ws.path(`dist/images/${image}/build-${arch}.run.json`);
  let ended = false;
  void run.finally(() => (ended = true));
  for (const end = Date.now() + 300_000; Date.now() < end && !ended; await sleep(50)) {
    try {
      if ((JSON.parse(readFileSync(file, "utf8")) as { state: string }).state !== "queued") return;
    } catch {
      // not written yet
    }
  }
  throw new Error(`${image} (${arch}) never started${ended ? ": the run ended first" : ""}`);
}

beforeAll(async () => {
  env = requireDockerEnvironment();
  fleet = requireFleet();
  prefix = `${env.registry}/f${Date.now().toString(36)}`;
  await makeTestBase(env, `${prefix}/base/alpine:3.23`, ["3.22", "3.21"], ["amd64", "arm64", "s390x"]);
  const fixture = dockerFixture([alpine("alpine-3.23", "3.23", { amd64: "", arm64: "", s390x: "" }, { default: true, aliases: ["alpine"] })]);
  ws = createDockerWorkspace(env, prefix, fixture, { builders: { arm64: fleet.ssh.builder, s390x: fleet.tls.builder } });
}, 600_000);

afterAll(async () => {
  ws?.dispose();
  // Whatever a test stopped comes back for the next.
  await execa("bash", [fleet.setupScript], { reject: false });
}, 120_000);

// Real builds under QEMU on three engines: on a busy 2-core machine one step can take several
// minutes, so each test has twice the suite-wide limit.
describe("a fleet of three engines", { timeout: 600_000 }, () => {
  it("builds each arch on its own engine, and publishes every arch", async () => {
    const result = await nx(["run-many", "-t", "publish", "--exclude=archive"]);
    const said = result.all.split("\n").filter((l) => / \((amd64|arm64|s390x)\): /.test(l) || / \| ERROR/.test(l) || /\| #\d+ ERROR/.test(l));
    expect(result.exitCode, said.slice(-60).join("\n")).toBe(0);
    for (const name of ["alpine-3.23-opam", "alpine-3.23-ocaml-4.14", "latest", "alpine"]) {
      expect(await platformsOf(`${prefix}/opam:${name}`), name).toEqual(["linux/amd64", "linux/arm64", "linux/s390x"]);
    }
    const images = ["alpine-3.23-opam", "alpine-3.23-ocaml-4.14", "alpine-3.23-ocaml-5.4"];
    const staged = (arch: string) => images.map((i) => `${i}-${arch}`).sort();
    // Each engine holds what it built and nothing of the other arches.
    expect(ours(imagesOn(fleet.ssh.socket)).filter((t) => !t.startsWith("build-"))).toEqual(staged("arm64"));
    expect(ours(imagesOn(fleet.tls.socket)).filter((t) => !t.startsWith("build-"))).toEqual(staged("s390x"));
    const local = ours(imagesOn("unix:///var/run/docker.sock")).filter((t) => !t.startsWith("build-") && !t.startsWith("3."));
    expect(local).toEqual(staged("amd64"));
    expect(result.all).toMatch(/alpine-3\.23-opam \(arm64\): building .* on arm64 builder \(ssh:\/\/root@127\.0\.0\.1:\d+\)/);
    expect(result.all).toMatch(/alpine-3\.23-opam \(s390x\): building .* on s390x builder \(tcp:\/\/127\.0\.0\.1:\d+\)/);
  });

  it("fails an arch whose key is wrong at once, in one line naming the builder and the cause", async () => {
    const wrongKey = join(ws.path("."), "wrong-key");
    await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", wrongKey]);
    const builder = JSON.stringify({ ...fleet.ssh.builder, keyFile: wrongKey });
    const result = await nx(["run", "alpine-3.23-opam:build-arm64", "--skip-nx-cache"], { OBI_BUILDER_ARM64: builder, OBI_STAGING_REPO: `${prefix}/wrong-key` });
    expect(result.exitCode).not.toBe(0);
    expect(result.all).toMatch(/alpine-3\.23-opam \(arm64\): build failed: arm64 builder \(ssh:\/\/root@127\.0\.0\.1:\d+\) cannot be reached: root@127\.0\.0\.1: Permission denied \(publickey\)\n/);
  });

  it("fails only the stopped engine's arch, naming it, and publishes every image that does not need it", async () => {
    ws.write("images/alpine-3.22/image.json", JSON.stringify(alpine("alpine-3.22", "3.22", { amd64: "", arm64: "", s390x: "" }).json));
    ws.write("images/alpine-3.21/image.json", JSON.stringify(alpine("alpine-3.21", "3.21", { amd64: "", arm64: "" }).json));
    const again = `${prefix}/opam-again`;
    const run = nx(["run-many", "-t", "publish", "--exclude=archive"], { OBI_PUBLIC_REPO: again });
    await untilStarted("alpine-3.22-opam", "s390x", run);
    process.kill(Number(readFileSync(fleet.tls.pidfile, "utf8").trim()), "SIGTERM");
    const result = await run;
    expect(result.exitCode).not.toBe(0);
    expect(result.all).toMatch(/alpine-3\.22-[\w.-]+ \(s390x\): build failed: s390x builder \(tcp:\/\/127\.0\.0\.1:\d+\) (cannot be reached: .*|.*)\n/);
    expect(result.all).toMatch(/s390x builder \(tcp:\/\/127\.0\.0\.1:\d+\) cannot be reached/);
    // No tag lists a partial set: nothing of alpine-3.22 is published.
    for (const name of ["alpine-3.22-opam", "alpine-3.22-ocaml-5.4", "alpine-3.22"]) expect(await env.client.getManifest(`${again}:${name}`), name).toBeUndefined();
    for (const name of ["alpine-3.21-opam", "alpine-3.21-ocaml-4.14", "alpine-3.21"]) {
      expect(await platformsOf(`${again}:${name}`), name).toEqual(["linux/amd64", "linux/arm64"]);
    }
    for (const name of ["latest", "alpine-3.23-ocaml-5.4"]) expect(await platformsOf(`${again}:${name}`), name).toEqual(["linux/amd64", "linux/arm64", "linux/s390x"]);
    await execa("bash", [fleet.setupScript]);
  });

  it("leaves no key behind when a run is killed mid-build", async () => {
    const child = execa(join(ws.path("node_modules/.bin/nx")), ["run-many", "-t", "publish", "--exclude=archive", "--outputStyle=static"], {
      cwd: ws.dir,
      reject: false,
      detached: true,
      all: true,
      env: { NX_DAEMON: "false", NX_NO_CLOUD: "true", NX_TUI: "false", NX_CACHE_DIRECTORY: ws.path(".nx/cache"), OBI_STAGING_REPO: `${prefix}/killed` },
    });
    await untilStarted("alpine-3.21-opam", "arm64", child);
    await sleep(1500);
    process.kill(-(child.pid as number), "SIGKILL");
    const killed = await child;
    outputs.push(String(killed.all));
    expect(killed.signal ?? "exited").toBe("SIGKILL");
  });

  it("on a site that builds linux amd64 and arm64 only, has no other build targets and publishes those arches", async () => {
    ws.editJson("nx.json", (j) => {
      const plugin = (j.plugins as { options: Record<string, unknown> }[])[0] as { options: Record<string, unknown> };
      plugin.options.site = { os: ["linux"], arches: ["amd64", "arm64"] };
    });
    const shown = await nx(["show", "projects", "--json"]);
    const projects = JSON.parse(shown.stdout) as string[];
    for (const project of projects.filter((p) => p.startsWith("alpine"))) {
      const config = JSON.parse((await ws.nxOk(["show", "project", project, "--json"])).stdout) as { targets: Record<string, unknown> };
      expect(Object.keys(config.targets).filter((t) => t.startsWith("build-")).sort(), project).toEqual(["build-amd64", "build-arm64"]);
    }
    const site = `${prefix}/opam-site`;
    const result = await nx(["run-many", "-t", "publish", "--exclude=archive"], { OBI_PUBLIC_REPO: site });
    expect(result.exitCode, result.all.slice(-3000)).toBe(0);
    for (const name of ["latest", "alpine-3.22-opam", "alpine-3.22", "alpine-3.21-ocaml-4.14"]) {
      expect(await platformsOf(`${site}:${name}`), name).toEqual(["linux/amd64", "linux/arm64"]);
    }
    expect(result.all).not.toMatch(/s390x/);
  });

  it("never lets a private key reach the terminal, Nx's cache, dist/ or the temporary directory", () => {
    const needles = [...secretLines(fleet.ssh.secret), ...secretLines(fleet.tls.secret)];
    expect(needles.length).toBeGreaterThan(4);
    // Other processes (suites running beside this one) make and remove files under the temporary
    // directory as it is read: a file gone before it is read held nothing of ours.
    const gone = (e: unknown) => (e as NodeJS.ErrnoException).code === "ENOENT";
    const files = (dir: string): string[] => {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch (e) {
        if (gone(e)) return [];
        throw e;
      }
      return entries.flatMap((e) => {
        const p = join(dir, e.name);
        if (e.isSymbolicLink() || e.name === "node_modules") return [];
        return e.isDirectory() ? files(p) : e.isFile() ? [p] : [];
      });
    };
    const recent = (dir: string) =>
      files(dir).filter((f) => {
        const stat = lstatSync(f, { throwIfNoEntry: false });
        return stat !== undefined && stat.mtimeMs >= startedAt && stat.size < 20_000_000;
      });
    const scanned = [...files(ws.path(".nx")), ...files(ws.path("dist")), ...recent(tmpdir())];
    expect(scanned.length).toBeGreaterThan(20);
    for (const file of scanned) {
      let text: string;
      try {
        text = readFileSync(file).toString("latin1");
      } catch (e) {
        if (gone(e)) continue;
        throw e;
      }
      for (const needle of needles) expect(text.includes(needle), file).toBe(false);
    }
    for (const output of outputs) for (const needle of needles) expect(output.includes(needle)).toBe(false);
  });
});
