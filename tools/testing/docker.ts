/**
 * What the Docker integration tests stand on: a real engine with buildx,
 * QEMU emulation and a password-protected registry (tools/ci/setup-docker.sh
 * brings them up). Missing parts fail the tests with a clear message; they
 * are never skipped.
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync, existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, execaSync } from "execa";
import {
  formatReference,
  parseReference,
  readCredentials,
  RegistryClient,
  repositoryOf,
  tagRef,
  temporaryDockerConfig,
  type Credentials,
  type Manifest,
} from "../../libs/docker/src";
import { createWorkspace, PROJECT_ROOT, smallFixture, type Fixture, type FixtureDistro, type Workspace } from "./workspace";

export interface DockerEnvironment {
  /** host:port of the loopback registry. */
  readonly registry: string;
  readonly username: string;
  readonly passwordFile: string;
  readonly credentials: Credentials;
  readonly client: RegistryClient;
}

export function requireDockerEnvironment(env = process.env): DockerEnvironment {
  const problems: string[] = [];
  const check = (what: string, command: string, args: string[]) => {
    const r = execaSync(command, args, { reject: false });
    if (r.exitCode !== 0) problems.push(`${what}: \`${command} ${args.join(" ")}\` failed: ${String(r.stderr).trim().split("\n")[0] ?? ""}`);
  };
  check("a Docker engine", "docker", ["info", "--format", "{{.ServerVersion}}"]);
  check("buildx", "docker", ["buildx", "version"]);
  if (!existsSync("/proc/sys/fs/binfmt_misc/qemu-aarch64")) problems.push("QEMU emulation for arm64 (binfmt qemu-aarch64) is not registered");
  const registry = env.OBI_TEST_REGISTRY ?? "127.0.0.1:5000";
  const username = env.OBI_REGISTRY_USER ?? "obi";
  const passwordFile = env.OBI_REGISTRY_PASSWORD_FILE ?? "/var/lib/obi-ci/registry-password";
  let credentials: Credentials | undefined;
  try {
    credentials = readCredentials({ username, passwordFile });
  } catch (e) {
    problems.push(`registry credentials: ${(e as Error).message}`);
  }
  const probe = execaSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", `http://${registry}/v2/`], { reject: false });
  if (probe.stdout !== "401") problems.push(`a password-protected registry at ${registry} (GET /v2/ answered ${probe.stdout || "nothing"}, expected 401)`);
  if (problems.length || !credentials) {
    throw new Error(`the Docker integration tests need real parts; run tools/ci/setup-docker.sh as root. Missing:\n- ${problems.join("\n- ")}`);
  }
  const creds = credentials;
  return { registry, username, passwordFile, credentials: creds, client: new RegistryClient({ credentials: (r) => (r === registry ? creds : undefined) }) };
}

/** Runs a command with a private docker config logged in to the test registry. */
export async function withLogin<T>(env: DockerEnvironment, fn: (dockerEnv: Record<string, string>) => Promise<T>): Promise<T> {
  const config = temporaryDockerConfig(env.registry, env.credentials);
  try {
    return await fn({ ...config.env });
  } finally {
    config.dispose();
  }
}

/**
 * Makes the test base image (tools/ci/make-test-base.sh) under `repo:tag`, for `arches`
 * (amd64 and arm64 unless told), tags the same index with each of `alsoAs` (other tags of the repository),
 * and returns the index.
 */
export async function makeTestBase(env: DockerEnvironment, target: string, alsoAs: readonly string[] = [], arches: readonly string[] = ["amd64", "arm64"]): Promise<Manifest> {
  await withLogin(env, async (dockerEnv) => {
    await execa("bash", [join(PROJECT_ROOT, "tools/ci/make-test-base.sh"), target], { env: { ...dockerEnv, OBI_TEST_BASE_ARCHES: arches.join(" ") } });
  });
  const index = await env.client.getManifest(target);
  if (!index) throw new Error(`the test base image ${target} was not pushed`);
  const repo = repositoryOf(parseReference(target));
  for (const tag of alsoAs) await env.client.putManifest(tagRef(repo, tag), index);
  return index;
}

/**
 * A base whose amd64 image is `good`'s and whose arm64 image is empty (no shell),
 * so every RUN fails on arm64 alone.
 */
export async function makeBaseBrokenOnArm64(env: DockerEnvironment, good: string, target: string): Promise<void> {
  const repo = repositoryOf(parseReference(target));
  const entries = await env.client.platforms(good);
  const amd64 = entries?.find((e) => e.platform?.architecture === "amd64");
  if (!amd64) throw new Error(`${good} has no amd64 image`);
  await withLogin(env, async (dockerEnv) => {
    const empty = formatReference(tagRef(repo, "empty-arm64"));
    await execa("sh", ["-c", `tar -c -T /dev/null | docker import --platform linux/arm64 - '${empty}' >/dev/null && docker push -q '${empty}' >/dev/null`], { env: dockerEnv });
    const pinned = formatReference({ ...parseReference(good), tag: undefined, digest: amd64.digest });
    await execa("docker", ["buildx", "imagetools", "create", "-t", target, pinned, empty], { env: dockerEnv });
  });
}

/** The test scanner's program (busybox sh): one SPDX document whose packages are the scanned root's top-level entries. */
const SCAN_SCRIPT = String.raw`#!/bin/sh
set -eu
src=$BUILDKIT_SCAN_SOURCE
out=$BUILDKIT_SCAN_DESTINATION
name=$(basename "$src")
packages=""
sep=""
for entry in $(ls "$src" | sort); do
  packages="$packages$sep{\"name\":\"$entry\",\"SPDXID\":\"SPDXRef-$entry\",\"downloadLocation\":\"NOASSERTION\"}"
  sep=","
done
printf '{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/Document","subject":[],"predicate":{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"obi-test-scanner %s","documentNamespace":"https://example.invalid/obi-test-scanner/%s","creationInfo":{"created":"2026-01-01T00:00:00Z","creators":["Tool: obi-test-scanner"]},"packages":[%s]}}\n' "$name" "$name" "$packages" >"$out/$name.spdx.json"
`;

/**
 * A tiny SBOM scanner image, FROM the test base `base` (amd64 and arm64), pushed as `target`:
 * it follows BuildKit's scanner protocol (moby/buildkit docs/attestations/sbom-protocol.md):
 * it reads the root filesystem named by BUILDKIT_SCAN_SOURCE and writes one SPDX JSON document,
 * listing that filesystem's top-level entries as its packages, to
 * $BUILDKIT_SCAN_DESTINATION/<name of the source>.spdx.json, wrapped in an in-toto statement of
 * predicate type https://spdx.dev/Document (BuildKit reads the folder as a bundle of statements:
 * exporter/attestation/unbundle.go). Built on `dockerHost`, an engine
 * whose builder pushes multi-platform images (the containerd image store).
 */
export async function makeTestScanner(env: DockerEnvironment, base: string, target: string, dockerHost: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "obi-test-scanner-"));
  writeFileSync(join(dir, "scan.sh"), SCAN_SCRIPT);
  writeFileSync(join(dir, "Dockerfile"), `FROM ${base}\nCOPY scan.sh /scan.sh\nCMD ["/bin/sh", "/scan.sh"]\n`);
  try {
    await withLogin(env, (dockerEnv) =>
      execa("docker", ["buildx", "build", "--platform", "linux/amd64,linux/arm64", "--provenance=false", "--sbom=false", "--push", "--tag", target, dir], {
        env: { ...dockerEnv, DOCKER_HOST: dockerHost },
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A local git repository standing in for opam-repository; returns its URL and commit. */
export function makeOpamRepository(): { url: string; commit: string } {
  const dir = mkdtempSync(join(tmpdir(), "obi-opam-repository-"));
  mkdirSync(join(dir, "packages/hello/hello.1.0"), { recursive: true });
  writeFileSync(join(dir, "packages/hello/hello.1.0/opam"), 'opam-version: "2.0"\n');
  writeFileSync(join(dir, "repo"), 'opam-version: "2.0"\n');
  const git = (...args: string[]) => execaSync("git", args, { cwd: dir }).stdout;
  git("init", "-q", "-b", "master");
  git("add", "-A");
  git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "opam-repository stand-in");
  return { url: `file://${dir}`, commit: git("rev-parse", "HEAD") };
}

/**
 * A `docker` first on PATH that logs every `docker buildx build` to a file and runs the
 * real docker: builds are counted, not inferred.
 */
export function buildCounter(): { path: string; count: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), "obi-docker-shim-"));
  const log = join(dir, "builds.log");
  const real = execaSync("sh", ["-c", "command -v docker"]).stdout.trim();
  writeFileSync(log, "");
  writeFileSync(
    join(dir, "docker"),
    `#!/bin/sh\nif [ "$1" = buildx ] && [ "$2" = build ]; then echo "$*" >>'${log}'; fi\nexec '${real}' "$@"\n`,
  );
  chmodSync(join(dir, "docker"), 0o755);
  return {
    path: `${dir}:${process.env.PATH ?? ""}`,
    count: () =>
      readFileSync(log, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((line) => /--tag (\S+)/.exec(line)?.[1] ?? line),
  };
}

/** An Alpine distro of the test matrix, built FROM the test base image under `prefix` (see makeTestBase). */
export function testAlpine(
  prefix: string,
  name: string,
  version: string,
  baseTag: string,
  arches: Record<string, string>,
  extra: Record<string, unknown> = {},
): FixtureDistro {
  return {
    name,
    json: { family: "alpine", version, title: `Alpine ${version}`, base: { image: `${prefix}/base/alpine`, tag: baseTag }, arches, tier: 2, bubblewrap: "0.11.0", gcc: "15.2", ...extra },
  };
}

/**
 * The matrix of a workspace whose builds are real: these distros, the small
 * fixture's compilers (or `compilers`), two opam branches, and opam-repository as
 * a local stand-in. Workspaces made from one fixture share its pins, so the same
 * image gets the same build id in each.
 */
export function dockerFixture(distros: readonly FixtureDistro[], compilers?: Fixture["compilers"]): Fixture {
  const repository = makeOpamRepository();
  const base = smallFixture();
  return {
    ...base,
    distros,
    ...(compilers ? { compilers } : {}),
    opam: {
      ...base.opam,
      builds: [
        { branch: "2.5", commit: "2".repeat(40), aliases: ["opam"] },
        { branch: "master", commit: "1".repeat(40), publicName: "opam-dev" },
      ],
    },
    opamRepository: { url: repository.url, branch: "master", commit: repository.commit },
  };
}

/**
 * A throw-away workspace whose builds and publishes are real: the fixture's
 * matrix, repositories under `prefix` (`<prefix>/opam-staging`, `<prefix>/opam`)
 * logged in with the test registry's password file, and BuildKit's built-in
 * frontend (no Docker Hub). `pluginOptions` override any of that.
 */
export function createDockerWorkspace(env: DockerEnvironment, prefix: string, fixture: Fixture, pluginOptions: Record<string, unknown> = {}): Workspace {
  return createWorkspace({
    fixture,
    pluginOptions: {
      dryRun: false,
      builtinFrontend: true,
      stagingRepo: `${prefix}/opam-staging`,
      publicRepo: `${prefix}/opam`,
      registry: { username: env.username, passwordFile: env.passwordFile },
      ...pluginOptions,
    },
  });
}
