/**
 * Windows images: what runs on a Windows engine (no BuildKit: the classic
 * `docker build`, then `docker push`) is checked as the exact commands of a dry
 * run; a Windows build without a Windows builder, or on an engine that is not
 * Windows, fails at once saying what to set; and publishing joins Windows
 * images into lists whose entries carry their os.version, checked through the
 * registry's API, each list written once (its PUTs counted by the fault proxy). The Windows images are made by BuildKit on Linux, on the
 * fleet's engine with the containerd image store (a Dockerfile without RUN).
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../workspace";
import { requireDockerEnvironment, withLogin, type DockerEnvironment } from "../docker";
import { startFaultProxy } from "../fault-proxy";
import { requireFleet, type Fleet } from "../fleet";
import { createWorkspace, smallFixture, type NxResult, type Workspace } from "../workspace";

let env: DockerEnvironment;
let fleet: Fleet;
let ws: Workspace;
let prefix: string;
let shimDir: string;

const windowsDistro = (name: string) => {
  const { $schema: _, ...json } = JSON.parse(readFileSync(join(PROJECT_ROOT, `images/${name}/image.json`), "utf8")) as Record<string, unknown>;
  return { name, json };
};

const setBuilders = (builders: Record<string, unknown>) =>
  ws.editJson("nx.json", (j) => {
    ((j.plugins as { options: Record<string, unknown> }[])[0] as { options: Record<string, unknown> }).options.builders = builders;
  });

/** A dry run, with a `docker` first on PATH that records any call and fails. */
async function dry(args: string[]): Promise<NxResult> {
  return ws.nx([...args, "--dryRun", "--skip-nx-cache", "--outputStyle=static"], { PATH: `${shimDir}:${process.env.PATH ?? ""}` });
}
const dockerCalls = () => readFileSync(join(shimDir, "calls.log"), "utf8").split("\n").filter(Boolean);

beforeAll(() => {
  env = requireDockerEnvironment();
  fleet = requireFleet();
  prefix = `${env.registry}/w${Date.now().toString(36)}`;
  shimDir = mkdtempSync(join(tmpdir(), "obi-docker-recorder-"));
  writeFileSync(join(shimDir, "calls.log"), "");
  writeFileSync(join(shimDir, "docker"), `#!/bin/sh\necho "docker $*" >>'${join(shimDir, "calls.log")}'\nexit 1\n`);
  chmodSync(join(shimDir, "docker"), 0o755);
  const base = smallFixture();
  ws = createWorkspace({
    fixture: { ...base, distros: [...base.distros, windowsDistro("windows-mingw-ltsc2019"), windowsDistro("windows-server-mingw-ltsc2022")] },
    pluginOptions: {
      dryRun: false,
      stagingRepo: `${prefix}/opam-staging`,
      publicRepo: `${prefix}/opam`,
      registry: { username: env.username, passwordFile: env.passwordFile },
    },
  });
}, 120_000);

afterAll(() => {
  ws?.dispose();
  if (shimDir) rmSync(shimDir, { recursive: true, force: true });
});

describe("Windows images", () => {
  it("fail at once without a Windows builder, naming the option to set", async () => {
    setBuilders({});
    const result = await dry(["run", "windows-server-mingw-ltsc2022-opam:build-amd64"]);
    expect(result.exitCode).not.toBe(0);
    expect(result.all).toMatch(
      /windows-server-mingw-ltsc2022-opam \(amd64\): build failed: no Windows builder: .*set builders\.windows in the plugin options \(nx\.json\) or OBI_BUILDER_WINDOWS\n/,
    );
    expect(dockerCalls()).toEqual([]);
  });

  it("build on the Windows builder with the classic builder and push each tag: the exact commands of a dry run", async () => {
    setBuilders({ windows: { kind: "ssh", host: "ssh://Administrator@winbuild.example.org", keyFile: "/run/secrets/ocurrent-ssh-key", knownHostsFile: "/run/secrets/windows-known-hosts", slots: 2 } });
    const result = await dry(["run", "windows-server-mingw-ltsc2022-ocaml-5.4:publish", "--verbose"]);
    expect(result.exitCode, result.all.slice(-3000)).toBe(0);
    expect(dockerCalls()).toEqual([]);
    const staging = `${prefix}/opam-staging`;
    for (const image of ["windows-server-mingw-ltsc2022-opam", "windows-server-mingw-ltsc2022-ocaml-5.4"]) {
      const label = `${image} \\(amd64\\)`;
      expect(result.all).toMatch(new RegExp(`${label}: would build .* for windows/amd64 on windows builder \\(ssh://Administrator@winbuild\\.example\\.org\\)`));
      expect(result.all).toMatch(new RegExp(`${label}: would connect with DOCKER_HOST=ssh://Administrator@winbuild\\.example\\.org, through ssh with the key in /run/secrets/ocurrent-ssh-key`));
      const tag = `${staging}:${image}-amd64`.replace(/\./g, "\\.");
      expect(result.all).toMatch(new RegExp(`${label}: would run: docker build --platform windows/amd64 --file '<context>/Dockerfile'(?: --label (?:'org\\.opencontainers\\.image\\.[^']*'|org\\.opencontainers\\.image\\.\\S+))+ --tag ${tag} --tag ${staging.replace(/\./g, "\\.")}:build-[0-9a-f]{64} '<context>'\\n`));
      expect(result.all).toMatch(new RegExp(`${label}: would run: docker push ${tag}\\n`));
    }
    expect(result.all).not.toMatch(/buildx build/);
    // Labels, yes; attestations, no: the classic builder says so once.
    expect(result.all).toMatch(/--label 'org\.opencontainers\.image\.description=OCaml 5\.4\.\d+ on windows-server-mingw-ltsc2022'/);
    expect(result.all.match(/the classic builder \(Windows\) makes no SBOM or provenance/g)).toHaveLength(1);
    expect(result.all).toMatch(/would give .*windows-server-mingw-ltsc2022-ocaml-5\.4's Windows entries the os\.version/);
  });

  it("refuse an engine that builds no Windows images, at once, naming it", async () => {
    setBuilders({ windows: fleet.tls.builder });
    const result = await ws.nx(["run", "windows-server-mingw-ltsc2022-opam:build-amd64", "--skip-nx-cache", "--outputStyle=static"]);
    expect(result.exitCode).not.toBe(0);
    expect(result.all).toMatch(/windows-server-mingw-ltsc2022-opam \(amd64\): build failed: windows builder \(tcp:\/\/127\.0\.0\.1:\d+\) does not build windows\/amd64; it builds linux\/amd64\n/);
  });

  it("are joined into manifest lists whose Windows entries carry os.version, each list written once, checked through the registry's API", async () => {
    const staging = `${prefix}/opam-staging`;
    // The publish talks to the registry through the proxy, which counts its manifest PUTs.
    const proxy = await startFaultProxy(env.registry);
    const proxied = (ref: string) => ref.replace(env.registry, proxy.registry);
    const parts = [
      { image: "windows-mingw-ltsc2019-ocaml-5.4", version: "10.0.17763.5696" },
      { image: "windows-server-mingw-ltsc2022-ocaml-5.4", version: "10.0.20348.2402" },
    ];
    const digests: string[] = [];
    try {
      for (const part of parts) {
        // A Windows-platform image from BuildKit on Linux: no RUN, on the engine with the containerd image store.
        const context = mkdtempSync(join(tmpdir(), "obi-windows-context-"));
        writeFileSync(join(context, "Dockerfile"), "FROM scratch\nCOPY Dockerfile.ocaml /Dockerfile.ocaml\n");
        writeFileSync(join(context, "Dockerfile.ocaml"), `${part.image}\n`);
        const tag = `${staging}:${part.image}-amd64`;
        await withLogin(env, (dockerEnv) =>
          execa("docker", ["buildx", "build", "--platform", "windows/amd64", "--provenance=false", "--sbom=false", "--push", "--tag", tag, context], {
            env: { ...dockerEnv, DOCKER_HOST: fleet.ociSocket },
          }),
        );
        rmSync(context, { recursive: true, force: true });
        const digest = (await env.client.getManifest(tag))?.digest as string;
        digests.push(digest);
        // What a build on the Windows builder would have recorded.
        ws.write(
          `dist/images/${part.image}/build-amd64.json`,
          JSON.stringify({ dryRun: false, image: part.image, arch: "amd64", platform: "windows/amd64", stagingRepo: proxied(staging), stagingTag: proxied(tag), digest, buildId: "0".repeat(64) }),
        );
      }
      const runEnv = { OBI_STAGING_REPO: proxied(staging), OBI_PUBLIC_REPO: proxied(`${prefix}/opam`) };
      await ws.nxOk(["run", "windows-all-mingw-ocaml-5.4:render", "--skip-nx-cache"], runEnv);
      const result = await ws.nx(["run", "windows-all-mingw-ocaml-5.4:publish", "--excludeTaskDependencies", "--skip-nx-cache", "--outputStyle=static"], runEnv);
      expect(result.exitCode, result.all.slice(-3000)).toBe(0);
      const names = ["windows-all-mingw", "windows-all-mingw-ocaml-5.4"];
      // One PUT per tag: the list goes up once, whole, os.version and all (never a list a Windows host cannot choose from).
      const puts = (name: string) => proxy.seen.filter((r) => r.method === "PUT" && r.path.endsWith(`/opam/manifests/${name}`)).length;
      expect(Object.fromEntries(names.map((n) => [n, puts(n)]))).toEqual(Object.fromEntries(names.map((n) => [n, 1])));
      for (const name of names) {
        const list = await env.client.getManifest(`${prefix}/opam:${name}`);
        expect(list, name).toBeDefined();
        const entries = (JSON.parse(list?.bytes.toString("utf8") ?? "{}") as { manifests: { digest: string; platform: Record<string, string> }[] }).manifests;
        const byDigest = new Map(entries.map((e) => [e.digest, e.platform]));
        parts.forEach((part, i) => {
          expect(byDigest.get(digests[i] as string), `${name} ${part.image}`).toEqual({ architecture: "amd64", os: "windows", "os.version": part.version });
        });
      }
    } finally {
      await proxy.stop();
    }
  });
});
