/**
 * Real builds and publishes: a real Docker engine with buildx and QEMU, a real
 * password-protected registry on loopback (tools/ci/setup-docker.sh), and the
 * real nx binary. The images are our generated Alpine Dockerfiles built on a
 * base the test makes from a static busybox, where package managers and
 * compilers are stand-ins; everything Docker, Nx and the registry do is real.
 */
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseReference } from "../../../libs/docker/src";
import {
  buildCounter,
  createDockerWorkspace,
  dockerFixture,
  makeBaseBrokenOnArm64,
  makeTestBase,
  requireDockerEnvironment,
  testAlpine,
  withLogin,
  type DockerEnvironment,
} from "../docker";
import type { NxResult, Workspace } from "../workspace";

let env: DockerEnvironment;
let ws: Workspace;
let prefix: string;
let counter: ReturnType<typeof buildCounter>;
const outputs: string[] = [];

const alpine = (name: string, version: string, tag: string, arches: Record<string, string>, extra: Record<string, unknown> = {}) =>
  testAlpine(prefix, name, version, tag, arches, extra);

async function publish(extraEnv: Record<string, string> = {}, args: string[] = []): Promise<{ result: NxResult; built: string[] }> {
  const before = counter.count().length;
  const result = await ws.nx(["run-many", "-t", "publish", "--exclude=archive", "--outputStyle=static", ...args], { PATH: counter.path, ...extraEnv });
  outputs.push(result.all);
  return { result, built: counter.count().slice(before) };
}

const publicTag = (name: string) => `${prefix}/opam:${name}`;
const platformsOf = async (tag: string) =>
  ((await env.client.platforms(tag)) ?? []).map((e) => `${e.platform?.os}/${e.platform?.architecture}`).sort();

beforeAll(async () => {
  env = requireDockerEnvironment();
  prefix = `${env.registry}/t${Date.now().toString(36)}`;
  await makeTestBase(env, `${prefix}/base/alpine:3.23`, ["3.22", "3.22b"]);
  await makeBaseBrokenOnArm64(env, `${prefix}/base/alpine:3.23`, `${prefix}/base/alpine:3.21`);
  ws = createDockerWorkspace(
    env,
    prefix,
    dockerFixture([
      alpine("alpine-3.23", "3.23", "3.23", { amd64: "", arm64: "" }, { tier: 1, default: true, aliases: ["alpine"] }),
      alpine("alpine-3.22", "3.22", "3.22", { amd64: "" }),
    ]),
  );
  counter = buildCounter();
}, 600_000);

afterAll(() => ws?.dispose());

describe("nx run-many -t publish against a real engine and registry", () => {
  it("pushes per-arch staging tags and manifest lists of exactly the declared arches", async () => {
    const { result, built } = await publish();
    expect(result.exitCode, result.all.slice(-3000)).toBe(0);
    expect(built.map((t) => parseReference(t).tag).sort()).toEqual(
      [
        "alpine-3.22-ocaml-4.14-amd64",
        "alpine-3.22-ocaml-5.4-amd64",
        "alpine-3.22-opam-amd64",
        "alpine-3.23-ocaml-4.14-amd64",
        "alpine-3.23-ocaml-4.14-arm64",
        "alpine-3.23-ocaml-4.14-flambda-amd64",
        "alpine-3.23-ocaml-5.4-amd64",
        "alpine-3.23-ocaml-5.4-arm64",
        "alpine-3.23-ocaml-5.4-flambda-amd64",
        "alpine-3.23-opam-amd64",
        "alpine-3.23-opam-arm64",
      ].sort(),
    );
    const both = ["linux/amd64", "linux/arm64"];
    for (const name of ["alpine-3.23-opam", "alpine-3.23-ocaml-4.14", "latest", "alpine", "alpine-3.23", "alpine-ocaml-5.4"]) {
      expect(await platformsOf(publicTag(name)), name).toEqual(both);
    }
    for (const name of ["alpine-3.23-ocaml-5.4-flambda", "alpine-3.22-opam", "alpine-3.22", "alpine-3.22-ocaml-4.14"]) {
      expect(await platformsOf(publicTag(name)), name).toEqual(["linux/amd64"]);
    }
    expect(await env.client.getManifest(`${prefix}/opam-staging:alpine-3.23-opam-arm64`)).toBeDefined();
  });

  it("builds each compiler image FROM the opam image of its arch, with both Dockerfiles inside", async () => {
    for (const arch of ["amd64", "arm64"]) {
      const layers = async (ref: string) => {
        const m = await env.client.getManifest(ref);
        return (JSON.parse(m?.bytes.toString("utf8") ?? "{}") as { layers: { digest: string }[] }).layers.map((l) => l.digest);
      };
      const opam = await layers(`${prefix}/opam-staging:alpine-3.23-opam-${arch}`);
      const compiler = await layers(`${prefix}/opam-staging:alpine-3.23-ocaml-4.14-${arch}`);
      expect(opam.length).toBeGreaterThan(0);
      expect(compiler.slice(0, opam.length), arch).toEqual(opam);
      const rendered = readFileSync(ws.path(`dist/images/alpine-3.23-ocaml-4.14/render/${arch}.Dockerfile`), "utf8");
      const files = await withLogin(env, async (dockerEnv) => {
        const image = `${prefix}/opam:alpine-3.23-ocaml-4.14`;
        const script = "uname -m; cat /Dockerfile.ocaml; echo ===; cat /Dockerfile.opam";
        const run = await execa("docker", ["run", "--rm", "--pull=always", "--platform", `linux/${arch}`, "--entrypoint", "/bin/sh", image, "-c", script], { env: dockerEnv });
        return run.stdout;
      });
      const [machine, ...rest] = files.split("\n");
      expect(machine).toBe(arch === "amd64" ? "x86_64" : "aarch64");
      const [ocaml, opamFile] = rest.join("\n").split("\n===\n");
      expect(`${ocaml}\n`).toBe(rendered.replace(/^# syntax=[^\n]*\n\n/, ""));
      expect(opamFile).toContain("opam init -k git -a /home/opam/opam-repository --bare");
    }
  });

  it("builds nothing the second time", async () => {
    const { result, built } = await publish();
    expect(result.exitCode).toBe(0);
    expect(built).toEqual([]);
  });

  it("builds nothing with the Nx cache wiped: the registry answers, and publish changes nothing", async () => {
    const before = await Promise.all(["latest", "alpine-3.22-opam"].map((n) => env.client.getManifest(publicTag(n))));
    await ws.nxOk(["reset"]);
    rmSync(ws.path("dist"), { recursive: true, force: true });
    const { result, built } = await publish();
    expect(result.exitCode, result.all.slice(-3000)).toBe(0);
    expect(built).toEqual([]);
    expect(result.all).toContain("not building");
    const record = JSON.parse(ws.read("dist/images/alpine-3.23-ocaml-5.4/publish.json")) as { manifests: { changed: boolean }[] };
    expect(record.manifests.map((m) => m.changed)).toEqual([false, false, false, false, false]);
    const after = await Promise.all(["latest", "alpine-3.22-opam"].map((n) => env.client.getManifest(publicTag(n))));
    expect(after.map((m) => m?.digest)).toEqual(before.map((m) => m?.digest));
  });

  it("rebuilds a changed image and what is built FROM it, nothing else", async () => {
    ws.editJson("images/alpine-3.22/image.json", (j) => ((j.base as { tag: string }).tag = "3.22b"));
    const { result, built } = await publish();
    expect(result.exitCode).toBe(0);
    expect(built.map((t) => parseReference(t).tag).sort()).toEqual(
      ["alpine-3.22-ocaml-4.14-amd64", "alpine-3.22-ocaml-5.4-amd64", "alpine-3.22-opam-amd64"],
    );
  });

  it("publishes no image whose build failed on one arch, names the image and arch, and publishes the rest", async () => {
    ws.write("images/alpine-3.21/image.json", JSON.stringify(alpine("alpine-3.21", "3.21", "3.21", { amd64: "", arm64: "" }).json));
    // A new public repository, so every image that can be published is published again.
    const again = `${prefix}/opam-again`;
    const { result } = await publish({ OBI_PUBLIC_REPO: again });
    expect(result.exitCode).not.toBe(0);
    expect(result.all).toMatch(/alpine-3\.21-opam \(arm64\): build failed/);
    for (const name of ["alpine-3.21-opam", "alpine-3.21-ocaml-5.4", "alpine-3.21"]) {
      expect(await env.client.getManifest(`${again}:${name}`), name).toBeUndefined();
    }
    expect(await env.client.getManifest(`${prefix}/opam-staging:alpine-3.21-opam-amd64`)).toBeDefined();
    for (const name of ["latest", "alpine-3.22", "alpine-3.23-ocaml-4.14-flambda"]) {
      expect(await env.client.getManifest(`${again}:${name}`), name).toBeDefined();
    }
    rmSync(ws.path("images/alpine-3.21"), { recursive: true, force: true });
  });

  it("stops with a clear error and pushes nothing when the registry password is wrong", async () => {
    const wrong = ws.path("wrong-password");
    writeFileSync(wrong, "not-the-password\n");
    const staging = `${prefix}/wrong-staging`;
    const result = await ws.nx(["run", "alpine-3.22-opam:build-amd64", "--outputStyle=static"], {
      PATH: counter.path,
      OBI_STAGING_REPO: staging,
      OBI_REGISTRY_PASSWORD_FILE: wrong,
    });
    outputs.push(result.all);
    expect(result.exitCode).not.toBe(0);
    expect(result.all).toMatch(/alpine-3\.22-opam \(amd64\): build failed: .*HTTP 401 \(check the registry username and password file\)/);
    expect(await env.client.getManifest(`${staging}:alpine-3.22-opam-amd64`)).toBeUndefined();
  });

  it("never lets the registry password reach the Nx cache, dist/ or the terminal", () => {
    const password = env.credentials.password;
    expect(password.length).toBeGreaterThan(8);
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = join(dir, e.name);
        return e.isDirectory() ? files(p) : e.isFile() ? [p] : [];
      });
    const scanned = [...files(ws.path(".nx")), ...files(ws.path("dist"))];
    expect(scanned.length).toBeGreaterThan(20);
    const encoded = Buffer.from(`${env.username}:${password}`).toString("base64");
    for (const file of scanned) {
      if (statSync(file).size > 50_000_000) continue;
      const text = readFileSync(file).toString("latin1");
      expect(text.includes(password) || text.includes(encoded), file).toBe(false);
    }
    for (const output of outputs) expect(output.includes(password) || output.includes(encoded)).toBe(false);
    expect(parseReference(`${prefix}/opam:x`).registry).toBe(env.registry);
  });
});
