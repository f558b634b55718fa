/**
 * Retiring a distro for real: a distro is published while active, then
 * deprecated; once its grace period is over (a fixed clock, OBI_NOW), the
 * deprecation image replaces every tag it had, on each arch, and running any of
 * them prints upstream's message and exits 1 (arm64 under QEMU). The deprecation
 * image starts FROM the newest active Alpine's base: here the locally made test base.
 */
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEPRECATION_MESSAGE } from "../../../libs/distros/src";
import { createDockerWorkspace, dockerFixture, makeTestBase, requireDockerEnvironment, testAlpine, withLogin, type DockerEnvironment } from "../docker";
import { publishedProblems } from "../published";
import type { Workspace } from "../workspace";

let env: DockerEnvironment;
let ws: Workspace;
let prefix: string;

const DEPRECATED_ON = "2026-08-09";
/** A day inside the 90-day grace period, and the first day after it. */
const DURING_GRACE = "2026-11-06T12:00:00Z";
const AFTER_GRACE = "2026-11-07T12:00:00Z";

const publicTag = (name: string) => `${prefix}/opam:${name}`;
const listed = async (tag: string) => ((await env.client.platforms(tag)) ?? []).map((e) => `${e.platform?.os}/${e.platform?.architecture}:${e.digest}`).sort();

beforeAll(async () => {
  env = requireDockerEnvironment();
  prefix = `${env.registry}/r${Date.now().toString(36)}`;
  await makeTestBase(env, `${prefix}/base/alpine:3.24`, ["3.23"]);
  const arches = { amd64: "", arm64: "" };
  ws = createDockerWorkspace(
    env,
    prefix,
    dockerFixture(
      [
        testAlpine(prefix, "alpine-3.24", "3.24", "3.24", arches, { default: true, aliases: ["alpine"] }),
        testAlpine(prefix, "alpine-3.23", "3.23", "3.23", arches),
      ],
      { releases: ["5.4.1"] },
    ),
  );
}, 600_000);

afterAll(() => ws?.dispose());

describe("a deprecated distro's tags, after its grace period", () => {
  it("are first published as the distro's own images while it is active", async () => {
    const result = await ws.nx(["run-many", "-t", "publish", "--projects=tag:distro:alpine-3.23", "--outputStyle=static"], { OBI_NOW: "2026-08-01T00:00:00Z" });
    expect(result.exitCode, result.all.slice(-3000)).toBe(0);
    expect((await listed(publicTag("alpine-3.23-ocaml-5.4"))).map((p) => p.split(":")[0])).toEqual(["linux/amd64", "linux/arm64"]);
  });

  it("stay as they are during the grace period: no project of the distro at all", async () => {
    ws.editJson("images/alpine-3.23/image.json", (j) => ((j.status = "deprecated"), (j.deprecatedOn = DEPRECATED_ON)));
    ws.commit("deprecate alpine-3.23");
    const projects = JSON.parse((await ws.nxOk(["show", "projects", "--json"], { OBI_NOW: DURING_GRACE })).stdout) as string[];
    expect(projects.filter((p) => p.startsWith("alpine-3.23"))).toEqual([]);
  });

  it("are then every tag it had, as multi-arch lists of the deprecation image that print the message and exit 1 on each arch", async () => {
    const before = await listed(publicTag("alpine-3.23-ocaml-5.4"));
    const projects = JSON.parse((await ws.nxOk(["show", "projects", "--json"], { OBI_NOW: AFTER_GRACE })).stdout) as string[];
    expect(projects.filter((p) => p.startsWith("alpine-3.23"))).toEqual(["alpine-3.23-deprecated"]);
    const result = await ws.nx(["run-many", "-t", "publish", "--projects=alpine-3.23-deprecated", "--outputStyle=static"], { OBI_NOW: AFTER_GRACE });
    expect(result.exitCode, result.all.slice(-3000)).toBe(0);

    const rendered = JSON.parse(ws.read("dist/images/alpine-3.23-deprecated/render/manifests.json")) as { manifests: { name: string }[] };
    expect(rendered.manifests.map((m) => m.name).sort()).toEqual(["alpine-3.23", "alpine-3.23-ocaml-5.4", "alpine-3.23-opam"]);
    expect(await publishedProblems(ws, env.client, `${prefix}/opam`, (ref) => ref)).toEqual([]);
    const after = await listed(publicTag("alpine-3.23-ocaml-5.4"));
    expect(after.map((p) => p.split(":")[0])).toEqual(["linux/amd64", "linux/arm64"]);
    expect(after).not.toEqual(before);
    // Every former tag now lists the same two images: the deprecation image's.
    for (const name of ["alpine-3.23", "alpine-3.23-opam"]) expect(await listed(publicTag(name)), name).toEqual(after);

    await withLogin(env, async (dockerEnv) => {
      for (const arch of ["amd64", "arm64"]) {
        // Whatever the user runs, the image says why and fails.
        const run = await execa("docker", ["run", "--rm", "--pull=always", "--platform", `linux/${arch}`, publicTag("alpine-3.23-ocaml-5.4"), "opam", "--version"], {
          env: dockerEnv,
          reject: false,
        });
        expect(run.exitCode, `${arch}: ${run.stderr}`).toBe(1);
        expect(run.stdout.trim(), arch).toBe(DEPRECATION_MESSAGE);
        const inspect = await execa("docker", ["image", "inspect", "--format", "{{.Architecture}}", publicTag("alpine-3.23-ocaml-5.4")], { env: dockerEnv });
        expect(inspect.stdout.trim()).toBe(arch);
      }
    });
  });
});
