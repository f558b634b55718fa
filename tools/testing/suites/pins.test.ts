/**
 * The pin updater against "upstreams" of the test's own: local git
 * repositories for opam and opam-repository, and the loopback registry for
 * base images. Builds run dry: what is counted is which builds Nx schedules.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execaSync } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeOpamRepository, makeTestBase, requireDockerEnvironment, type DockerEnvironment } from "../docker";
import { cacheHits, createWorkspace, ranTasks, smallFixture, type Workspace } from "../workspace";

let env: DockerEnvironment;
let ws: Workspace;
let prefix: string;
let opamUpstream: string;
const git = (dir: string, ...args: string[]) => execaSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], { cwd: dir }).stdout;

function makeOpamUpstream(): string {
  const dir = mkdtempSync(join(tmpdir(), "obi-opam-upstream-"));
  git(dir, "init", "-q", "-b", "master");
  writeFileSync(join(dir, "README"), "opam\n");
  git(dir, "add", "-A");
  git(dir, "commit", "-qm", "master");
  git(dir, "branch", "2.5");
  return dir;
}

const head = (dir: string, branch: string) => git(dir, "rev-parse", branch);
const scheduledBuilds = (output: string) =>
  [...new Set([...ranTasks(output), ...cacheHits(output).keys()])].filter((t) => t.endsWith(":build-amd64")).sort();

beforeAll(async () => {
  env = requireDockerEnvironment();
  prefix = `${env.registry}/p${Date.now().toString(36)}`;
  const index = await makeTestBase(env, `${prefix}/base/alpine:3.23`, ["3.22"]);
  opamUpstream = makeOpamUpstream();
  const repository = makeOpamRepository();
  const base = smallFixture();
  const alpine = (name: string, tag: string, extra: object = {}) => ({
    name,
    json: { family: "alpine", version: tag, title: name, base: { image: `${prefix}/base/alpine`, tag, digest: index.digest }, arches: { amd64: "" }, tier: 2, bubblewrap: "0.11.0", ...extra },
  });
  ws = createWorkspace({
    fixture: {
      ...base,
      distros: [alpine("alpine-3.23", "3.23", { default: true }), alpine("alpine-3.22", "3.22")],
      opam: {
        url: `file://${opamUpstream}`,
        bootstrap: "master",
        windowsDefault: "master",
        builds: [
          { branch: "2.5", commit: head(opamUpstream, "2.5"), aliases: ["opam"] },
          { branch: "master", commit: head(opamUpstream, "master"), publicName: "opam-dev" },
        ],
      },
      opamRepository: { url: repository.url, branch: "master", commit: repository.commit },
    },
    // The password is for the test registry, and goes nowhere else (it is not the default staging registry's).
    pluginOptions: { dryRun: true, registry: { server: env.registry, username: env.username, passwordFile: env.passwordFile } },
  });
  await ws.nxOk(["run-many", "-t", "build-amd64"]);
}, 300_000);

afterAll(() => ws?.dispose());

describe("nx run images:update-pins", () => {
  it("says every pin is current when nothing moved", async () => {
    const result = await ws.nxOk(["run", "images:update-pins", "--check"]);
    expect(result.all).toContain("every pin is current");
  });

  it("reports exactly the base image that moved, fails --check, then moves that pin alone", async () => {
    // The 3.22 tag now names another image: the amd64 image alone instead of the index.
    const entriesDigest = (await env.client.getManifest(`${prefix}/base/alpine:3.22`))?.digest;
    const entries = await env.client.platforms(`${prefix}/base/alpine:3.22`);
    const amd64 = await env.client.getManifest(`${prefix}/base/alpine@${entries?.find((e) => e.platform?.architecture === "amd64")?.digest}`);
    if (!amd64) throw new Error("no amd64 base");
    await env.client.putManifest(`${prefix}/base/alpine:3.22`, amd64);

    const check = await ws.nx(["run", "images:update-pins", "--check"]);
    expect(check.exitCode).toBe(1);
    const reported = check.all.split("\n").filter((l) => l.includes(" -> "));
    expect(reported).toHaveLength(1);
    expect(reported[0]).toBe(`images/alpine-3.22/image.json: base ${prefix}/base/alpine:3.22: ${entriesDigest} -> ${amd64.digest}`);
    expect(ws.git("status", "--porcelain")).toBe("");

    await ws.nxOk(["run", "images:update-pins"]);
    expect(ws.git("diff", "--name-only").split("\n")).toEqual(["images/alpine-3.22/image.json"]);
    expect(JSON.parse(ws.read("images/alpine-3.22/image.json")).base.digest).toBe(amd64.digest);
  });

  it("after the update, affected builds are exactly those of the images on that base", async () => {
    ws.commit("pins: alpine 3.22 base");
    const result = await ws.nxOk(["affected", "-t", "build-amd64", "--base=main~1", "--head=main", "--outputStyle=static"]);
    expect(scheduledBuilds(result.all)).toEqual(
      ["alpine-3.22-ocaml-4.14:build-amd64", "alpine-3.22-ocaml-5.4:build-amd64", "alpine-3.22-opam:build-amd64"],
    );
    // All of them ran: the pinned digest is part of the opam build, and the compilers are built FROM it.
    expect([...ranTasks(result.all)].filter((t) => t.endsWith(":build-amd64")).sort()).toEqual(scheduledBuilds(result.all));
  });

  it("moves a branch pin when its head moves, and that reaches every opam image", async () => {
    writeFileSync(join(opamUpstream, "CHANGES"), "2.5.1\n");
    git(opamUpstream, "checkout", "-q", "2.5");
    git(opamUpstream, "add", "-A");
    git(opamUpstream, "commit", "-qm", "2.5.1");
    const moved = head(opamUpstream, "2.5");

    const check = await ws.nx(["run", "images:update-pins", "--check"]);
    expect(check.exitCode).toBe(1);
    expect(check.all.split("\n").filter((l) => l.includes(" -> "))).toEqual([expect.stringMatching(new RegExp(`^images/opam\\.json: opam 2\\.5: [0-9a-f]{40} -> ${moved}$`))]);

    await ws.nxOk(["run", "images:update-pins"]);
    expect(ws.git("diff", "--name-only")).toBe("images/opam.json");
    ws.commit("pins: opam 2.5");
    const result = await ws.nxOk(["affected", "-t", "build-amd64", "--base=main~1", "--head=main", "--outputStyle=static"]);
    expect(scheduledBuilds(result.all)).toEqual(
      [
        "alpine-3.22-ocaml-4.14:build-amd64",
        "alpine-3.22-ocaml-5.4:build-amd64",
        "alpine-3.22-opam:build-amd64",
        "alpine-3.23-ocaml-4.14:build-amd64",
        "alpine-3.23-ocaml-5.4:build-amd64",
        "alpine-3.23-opam:build-amd64",
        "archive:build-amd64",
      ],
    );
  });
});
