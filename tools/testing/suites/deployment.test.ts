/**
 * The deployment, for real (issue 17, section 2): a single-node swarm on the CI
 * engine, the service image built by tools/service/build-image.sh FROM a Debian
 * base made without Docker Hub (tools/ci/setup-service.sh), the external secrets
 * made with `docker secret create`, and `docker stack deploy -c stack.yml -c
 * stack.host.yml` (the host's network: the registry and builders listen on
 * loopback). The image is of a throw-away workspace whose matrix is one Alpine
 * built FROM the test base, as a site that builds arm64 and s390x only: its
 * pipeline builds arm64 on the fleet's SSH engine and s390x on its TLS engine
 * with the keys from the secrets, and publishes to the loopback registry.
 *
 * It checks that every service becomes healthy, the page answers on its port,
 * the pipeline's run succeeds and /metrics says so, Nx stores to the cache
 * service and a pipeline with an empty local cache replays every task from it,
 * no secret value shows anywhere (inspect, environments, logs, image layers,
 * volumes), and that removing the stack and leaving the swarm leaves nothing —
 * also when a test fails (afterAll), and after a crashed earlier run (cleaned first).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { basename, dirname, join, normalize } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVICE_RUN_FILE } from "../../../libs/status/src";
import { DEPLOYED_SECRETS } from "../../nx-plugin/src/settings";
import { dockerFixture, makeTestBase, requireDockerEnvironment, testAlpine, type DockerEnvironment } from "../docker";
import { imagesOn, requireFleet, secretLines, type Fleet } from "../fleet";
import { freePort } from "../prometheus";
import { filesHolding, streamHolding } from "../secrets";
import { docker, dockerOk, makeSwarm, removeEverything, stackContainers, stackVolumes, swarmNetworks, swarmState, until } from "../swarm";
import { cacheHits, createWorkspace, PROJECT_ROOT, ranTasks, type Workspace } from "../workspace";

const STACK = "obi-deploy-test";
const IMAGE_REPO = "obi-deploy-test/service";
const BASE = process.env.OBI_SERVICE_BASE ?? "obi/debian:13-local";
const SECRET_NAMES = Object.values(DEPLOYED_SECRETS).map((path) => basename(path));
const ARCHES = ["arm64", "s390x"] as const;
const IMAGES = ["alpine-3.23-opam", "alpine-3.23-ocaml-4.14", "alpine-3.23-ocaml-5.4"];

let env: DockerEnvironment;
let fleet: Fleet;
let ws: Workspace | undefined;
let scratch: string;
let prefix: string;
let image: string | undefined;
let statusPort: number;
let cachePort: number;
let gitServer: Server | undefined;
/** The opam-repository stand-in dockerFixture made (under the temporary folder). */
let opamRepository: string | undefined;
let receiver: Server | undefined;
const posted: string[] = [];
/** Every secret value deployed, as the strings searched for (a key's body lines, a token, the webhook's secret path). */
let needles: string[] = [];
/** When each step ended, from the start: the README's numbers come from here. */
const timings: [string, number][] = [];
const startedAt = Date.now();
const took = (step: string) => timings.push([step, Math.round((Date.now() - startedAt) / 1000)]);

/** The run record's path in the dist volume (mounted at the workspace's dist/). */
const RUN_IN_DIST = SERVICE_RUN_FILE.replace(/^dist\//, "");
const volumeDir = async (volume: string) => (await dockerOk(["volume", "inspect", "--format", "{{.Mountpoint}}", `${STACK}_${volume}`])).trim();
const containerOf = async (service: string) => (await dockerOk(["ps", "-q", "--filter", `label=com.docker.swarm.service.name=${STACK}_${service}`])).trim().split("\n")[0] ?? "";
const serviceLogs = async (service: string, since?: string) =>
  dockerOk(["service", "logs", "--raw", "--no-trunc", ...(since ? ["--since", since] : []), `${STACK}_${service}`], { timeoutMs: 60_000 });
const get = async (port: number, path: string) => {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(15_000) });
  return { status: r.status, text: await r.text() };
};
const platformsOf = async (tag: string) => ((await env.client.platforms(tag)) ?? []).map((e) => `${e.platform?.os}/${e.platform?.architecture}`).sort();
/** A sample's value in a Prometheus text scrape, by its name and labels as written. */
const sample = (scrape: string, series: string): number | undefined => {
  const line = scrape.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

interface ServiceRun {
  state: string;
  startedAt: string;
  at?: string;
}
const serviceRun = async (): Promise<ServiceRun | undefined> => {
  try {
    return JSON.parse(readFileSync(join(await volumeDir("dist"), RUN_IN_DIST), "utf8")) as ServiceRun;
  } catch {
    return undefined;
  }
};

/** Waits for the pipeline's run that started after `after` to end; a failed run fails at once, with the end of its log. */
async function runEnded(after: number, boundMs: number): Promise<ServiceRun> {
  let last = "";
  const run = await until(
    "the pipeline's run to end",
    boundMs,
    async () => {
      const r = await serviceRun();
      last = JSON.stringify(r);
      return r && Date.parse(r.startedAt) >= after && r.state !== "running" ? r : undefined;
    },
    3_000,
    () => last,
  );
  if (run.state !== "succeeded") {
    const log = await serviceLogs("pipeline");
    throw new Error(`the pipeline's run ${run.state}:\n${log.split("\n").filter((l) => /failed|error|ERROR/.test(l)).slice(-40).join("\n")}`);
  }
  return run;
}

/** A webhook receiver on loopback, standing in for the chat the notifications go to. */
async function startReceiver(): Promise<number> {
  receiver = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => {
      posted.push(body);
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => receiver?.listen(0, "127.0.0.1", r));
  const address = receiver.address();
  return typeof address === "object" && address ? address.port : 0;
}

/**
 * The opam-repository stand-in, served on loopback over git's dumb HTTP protocol from this
 * process (the pipeline's container cannot see this machine's files): a bare copy and its
 * info/refs, files read from that folder only. Nothing outlives the test process.
 */
async function serveGit(repoDir: string): Promise<string> {
  const bare = join(scratch, "git", "opam-repository.git");
  await execa("git", ["clone", "--quiet", "--bare", repoDir, bare]);
  await execa("git", ["-C", bare, "update-server-info"]);
  gitServer = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? "/").split("?")[0] ?? "/"));
    const file = join(dirname(bare), path);
    if (req.method !== "GET" || !file.startsWith(`${bare}/`)) return res.writeHead(404).end();
    try {
      const body = readFileSync(file);
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => gitServer?.listen(0, "127.0.0.1", r));
  const address = gitServer.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/opam-repository.git`;
  const r = await execa("git", ["ls-remote", url], { reject: false, timeout: 30_000 });
  if (r.exitCode !== 0) throw new Error(`the opam-repository stand-in is not served at ${url}: ${r.stderr}`);
  return url;
}

beforeAll(async () => {
  env = requireDockerEnvironment();
  fleet = requireFleet();
  if ((await docker(["image", "inspect", BASE])).exitCode !== 0) throw new Error(`no service base image ${BASE}; run tools/ci/setup-service.sh as root`);
  // An earlier run that crashed leaves its swarm, stack, volumes and image: gone first (a live run's swarm is refused).
  await makeSwarm(STACK, SECRET_NAMES);
  for (const old of (await dockerOk(["image", "ls", "-q", IMAGE_REPO])).split("\n").filter(Boolean)) await docker(["image", "rm", "-f", old]);
  took("swarm made (leftovers cleaned)");

  scratch = mkdtempSync(join(tmpdir(), "obi-deploy-"));
  prefix = `${env.registry}/d${Date.now().toString(36)}`;
  const fixture = dockerFixture([testAlpine(prefix, "alpine-3.23", "3.23", "3.23", { amd64: "", arm64: "", s390x: "" }, { default: true, aliases: ["alpine"] })]);
  opamRepository = (fixture.opamRepository.url as string).replace(/^file:\/\//, "");
  const opamUrl = await serveGit(opamRepository);
  ws = createWorkspace({
    fixture: { ...fixture, opamRepository: { ...fixture.opamRepository, url: opamUrl } },
    // The site builds arm64 and s390x only (so no archive: it needs the default distro's amd64).
    pluginOptions: { builtinFrontend: true, stagingRepo: `${prefix}/opam-staging`, publicRepo: `${prefix}/opam`, site: { os: ["linux"], arches: [...ARCHES] } },
  });
  image = `${IMAGE_REPO}:${ws.git("rev-parse", "HEAD").slice(0, 12)}`;
  const built = await execa("bash", [ws.path("tools/service/build-image.sh"), "--base", BASE, "--tag", image], { reject: false, all: true, timeout: 480_000 });
  if (built.exitCode !== 0) throw new Error(`build-image.sh failed:\n${String(built.all).slice(-3000)}`);
  took("service image built");
  await makeTestBase(env, `${prefix}/base/alpine:3.23`, [], [...ARCHES]);
  took("test base pushed");

  // The secrets: the registry's password, the fleet's keys, and tokens and a webhook made here.
  const webhookSecret = randomBytes(16).toString("hex");
  const values: Record<string, string> = {
    "ocurrent-hub": `${env.credentials.password}\n`,
    "ocurrent-ssh-key": fleet.ssh.secret,
    "ci-known-hosts": readFileSync(fleet.ssh.builder.knownHostsFile as string, "utf8"),
    "ocurrent-tls-key": fleet.tls.secret,
    "ocurrent-tls-cert": readFileSync(fleet.tls.builder.certFile as string, "utf8"),
    "ocurrent-tls-ca": readFileSync(fleet.tls.builder.caFile as string, "utf8"),
    "nx-cache-rw": `${randomBytes(24).toString("hex")}\n`,
    "nx-cache-ro": `${randomBytes(24).toString("hex")}\n`,
    "base-images-slack": `http://127.0.0.1:${await startReceiver()}/hooks/${webhookSecret}\n`,
  };
  expect(Object.keys(values).sort()).toEqual([...SECRET_NAMES].sort());
  needles = [
    env.credentials.password,
    ...secretLines(fleet.ssh.secret),
    ...secretLines(fleet.tls.secret),
    (values["nx-cache-rw"] as string).trim(),
    (values["nx-cache-ro"] as string).trim(),
    webhookSecret,
  ];
  // On stdin: a value is never in an argument.
  for (const [name, value] of Object.entries(values)) await dockerOk(["secret", "create", name, "-"], { input: value });

  statusPort = await freePort();
  cachePort = await freePort();
  const cacheConfig = join(scratch, "cache-server.json");
  writeFileSync(
    cacheConfig,
    JSON.stringify({ host: "127.0.0.1", port: cachePort, storage: { directory: "/var/lib/nx-cache", maxTotalBytes: 1_073_741_824 }, readWriteTokenFile: DEPLOYED_SECRETS.cacheReadWrite, readOnlyTokenFile: DEPLOYED_SECRETS.cacheReadOnly }),
  );
  // The stack's settings (none of them secret) for `docker stack deploy`, which reads them from its environment.
  const deployEnv = {
    OBI_SERVICE_IMAGE: image,
    OBI_DRY_RUN: "0",
    OBI_STAGING_REPO: `${prefix}/opam-staging`,
    OBI_PUBLIC_REPO: `${prefix}/opam`,
    OBI_REGISTRY_USER: env.username,
    OBI_ARM64_HOST: fleet.ssh.builder.host as string,
    OBI_S390X_HOST: fleet.tls.builder.host as string,
    OBI_STATUS_BIND: "127.0.0.1",
    OBI_STATUS_PORT_MODE: "host",
    OBI_STATUS_LISTEN_PORT: String(statusPort),
    OBI_STATUS_PORT: String(statusPort),
    OBI_STATUS_HOSTNAME: "localhost",
    OBI_PAGE_URL: `http://127.0.0.1:${statusPort}/`,
    OBI_CACHE_CONFIG_FILE: cacheConfig,
    OBI_CACHE_PORT: String(cachePort),
    OBI_CACHE_URL: `http://127.0.0.1:${cachePort}`,
    OBI_CHECK_SECONDS: "5",
  };
  const service = join(PROJECT_ROOT, "tools/service");
  await dockerOk(["stack", "deploy", "--detach=true", "--resolve-image", "never", "-c", join(service, "stack.yml"), "-c", join(service, "stack.host.yml"), STACK], { env: deployEnv, timeoutMs: 120_000 });
  took("stack deployed");
}, 720_000);

afterAll(async () => {
  // Whatever happened above: nothing of the deployment stays.
  try {
    await removeEverything(STACK, SECRET_NAMES);
  } finally {
    if (image) await docker(["image", "rm", "-f", image]);
    gitServer?.closeAllConnections();
    gitServer?.close();
    if (opamRepository) rmSync(opamRepository, { recursive: true, force: true });
    receiver?.closeAllConnections();
    receiver?.close();
    ws?.dispose();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    took("cleaned up");
    console.log(`deployment test timings (s since start): ${timings.map(([s, t]) => `${s} ${t}`).join("; ")}`);
  }
}, 300_000);

describe("the stack, deployed on a single-node swarm", () => {
  it("brings every service to healthy, and the page answers on its port with the pipeline's plan", { timeout: 360_000 }, async () => {
    let seen = "";
    await until(
      "every service to be healthy",
      300_000,
      async () => {
        seen = await dockerOk(["ps", "--filter", `label=com.docker.stack.namespace=${STACK}`, "--format", '{{.Label "com.docker.swarm.service.name"}}: {{.Status}}']);
        const healthy = ["status", "cache", "pipeline"].filter((s) => new RegExp(`^${STACK}_${s}: Up .*\\(healthy\\)$`, "m").test(seen));
        return healthy.length === 3 ? true : undefined;
      },
      2_000,
      () => seen.trim().replace(/\n/g, "; "),
    ).catch(async (e: Error) => {
      const tasks = await docker(["service", "ps", "--no-trunc", "--format", "{{.Name}} {{.CurrentState}} {{.Error}}", `${STACK}_status`, `${STACK}_cache`, `${STACK}_pipeline`]);
      throw new Error(`${e.message}\n${tasks.stdout}`);
    });
    took("every service healthy");
    const page = await get(statusPort, "/");
    expect(page.status).toBe(200);
    expect(page.text).toContain("OCaml base images: build status");
    expect(page.text).toContain("alpine-3.23-opam");
    const status = JSON.parse((await get(statusPort, "/status.json")).text) as { repositories: { staging: string }; images: { name: string; builds: { arch: string }[] }[] };
    expect(status.repositories.staging).toBe(`${prefix}/opam-staging`);
    expect(status.images.map((i) => i.name)).toEqual(IMAGES);
    for (const i of status.images) expect(i.builds.map((b) => b.arch).sort(), i.name).toEqual([...ARCHES]);
  });

  it("runs the pipeline for real: arm64 on the SSH engine and s390x on the TLS engine, with the keys from the secrets, published to the registry", { timeout: 540_000 }, async () => {
    const run = await runEnded(startedAt, 480_000);
    took("the pipeline's run succeeded");
    expect(run.state).toBe("succeeded");
    const log = await serviceLogs("pipeline");
    expect(log).toMatch(/alpine-3\.23-opam \(arm64\): building .* on arm64 builder \(ssh:\/\/root@127\.0\.0\.1:\d+\)/);
    expect(log).toMatch(/alpine-3\.23-opam \(s390x\): building .* on s390x builder \(tcp:\/\/127\.0\.0\.1:\d+\)/);
    expect(log).not.toMatch(/\(amd64\)/);
    for (const name of [...IMAGES, "alpine"]) expect(await platformsOf(`${prefix}/opam:${name}`), name).toEqual(["linux/arm64", "linux/s390x"]);
    // Each engine holds what it built.
    const staged = (socket: string) => imagesOn(socket).filter((i) => i.startsWith(`${prefix}/opam-staging:alpine`)).sort();
    expect(staged(fleet.ssh.socket)).toEqual(IMAGES.map((i) => `${prefix}/opam-staging:${i}-arm64`).sort());
    expect(staged(fleet.tls.socket)).toEqual(IMAGES.map((i) => `${prefix}/opam-staging:${i}-s390x`).sort());
    // The page shows it, and the notification went out.
    const status = JSON.parse((await get(statusPort, "/status.json")).text) as { counts: { builds: Record<string, number>; publishes: Record<string, number> } };
    expect(status.counts.builds.published).toBe(IMAGES.length * ARCHES.length);
    expect(status.counts.publishes.published).toBe(IMAGES.length);
    const texts = posted.map((p) => (JSON.parse(p) as { text: string }).text);
    expect(texts.at(-1)).toMatch(new RegExp(`^:white_check_mark: base-images: the run for period \\S+ at [0-9a-f]{12} succeeded; builds: ${IMAGES.length * ARCHES.length} published.*; http://127\\.0\\.0\\.1:${statusPort}/$`));
  });

  it("says so on /metrics: builds per state and per builder, the service's last success", async () => {
    const { status, text } = await get(statusPort, "/metrics");
    expect(status).toBe(200);
    const ssh = fleet.ssh.builder.host as string;
    const tls = fleet.tls.builder.host as string;
    expect(sample(text, 'baseimages_pipeline_builds{state="published"}')).toBe(IMAGES.length * ARCHES.length);
    expect(sample(text, 'baseimages_pipeline_builds{state="failed"}')).toBe(0);
    expect(sample(text, `baseimages_pipeline_build_runs_total{arch="arm64",builder="${ssh}",outcome="succeeded"}`)).toBe(IMAGES.length);
    expect(sample(text, `baseimages_pipeline_build_runs_total{arch="s390x",builder="${tls}",outcome="succeeded"}`)).toBe(IMAGES.length);
    expect(sample(text, `baseimages_pipeline_builder_unreachable{builder="${ssh}"}`)).toBe(0);
    expect(sample(text, `baseimages_pipeline_builder_unreachable{builder="${tls}"}`)).toBe(0);
    expect(sample(text, 'baseimages_pipeline_image_platform_state_total{platform="Alpine 3.23",state="ok"}')).toBe(IMAGES.length);
    expect(sample(text, "baseimages_pipeline_last_success_time")).toBeGreaterThanOrEqual(startedAt / 1000);
    expect(sample(text, "baseimages_pipeline_last_run_failed")).toBe(0);
    expect(sample(text, "baseimages_pipeline_run_in_progress")).toBe(0);
  });

  it("stores Nx's results in the cache service, and a pipeline with an empty local cache replays every task from it", { timeout: 360_000 }, async () => {
    const before = (await get(cachePort, "/metrics")).text;
    expect(sample(before, "nx_cache_stored_bytes_total")).toBeGreaterThan(0);
    const stored = sample(before, 'nx_cache_requests_total{method="PUT",status="200"}') ?? 0;
    const hitsBefore = sample(before, "nx_cache_hits_total") ?? 0;
    expect(stored).toBeGreaterThanOrEqual(IMAGES.length * (2 + ARCHES.length));
    // As on a new node: the pipeline's own Nx cache and its run record gone (between runs, from outside).
    const nxDir = await volumeDir("nx-cache");
    for (const entry of readdirSync(nxDir)) rmSync(join(nxDir, entry), { recursive: true, force: true });
    const since = new Date().toISOString();
    const again = Date.now();
    rmSync(join(await volumeDir("dist"), RUN_IN_DIST), { force: true });
    await runEnded(again, 300_000);
    took("the replaying run succeeded");
    const log = (await serviceLogs("pipeline", since)).replace(/^nx \| /gm, "");
    const hits = cacheHits(log);
    expect(ranTasks(log), log.slice(-3000)).toEqual(new Set());
    expect(hits.size).toBe(IMAGES.length * (2 + ARCHES.length));
    expect([...hits.values()].every((h) => h === "remote"), JSON.stringify([...hits])).toBe(true);
    // Replayed, not run: Nx says so of every task (the lines under each are the first run's, replayed).
    expect(log).toContain(`Nx read the output from the cache instead of running the command for ${hits.size} out of ${hits.size} tasks.`);
    const after = (await get(cachePort, "/metrics")).text;
    expect((sample(after, "nx_cache_hits_total") ?? 0) - hitsBefore).toBe(hits.size);
  });

  it("shows no secret value anywhere: inspect, environments, logs, image layers, volumes, Nx's caches", { timeout: 300_000 }, async () => {
    expect(needles.length).toBeGreaterThan(6);
    const holding = (text: string) => needles.flatMap((n, i) => (text.includes(n) ? [i] : []));
    // The search is real: the secrets as mounted in the pipeline's and the cache's containers hold every needle.
    const pipeline = await containerOf("pipeline");
    const mounted = (await dockerOk(["exec", pipeline, "sh", "-c", "cat /run/secrets/*"])) + (await dockerOk(["exec", await containerOf("cache"), "sh", "-c", "cat /run/secrets/*"]));
    expect(holding(mounted)).toEqual(needles.map((_, i) => i));

    const services = ["status", "cache", "pipeline"].map((s) => `${STACK}_${s}`);
    const containers = await stackContainers(STACK);
    const places: [string, string][] = [
      ["docker service inspect", await dockerOk(["service", "inspect", ...services])],
      ["docker inspect (containers)", await dockerOk(["inspect", ...containers])],
      ["docker secret inspect", await dockerOk(["secret", "inspect", ...SECRET_NAMES])],
    ];
    for (const s of ["status", "cache", "pipeline"]) {
      places.push([`${s}'s environment`, await dockerOk(["exec", await containerOf(s), "env"])]);
      places.push([`${s}'s log`, await serviceLogs(s)]);
    }
    for (const [place, text] of places) expect(holding(text), place).toEqual([]);
    // Files that outlive a run: the private folders of the builds' connections are gone.
    const left = await dockerOk(["exec", pipeline, "sh", "-c", "find /dev/shm /tmp -path '*obi-secrets-*' -mindepth 2 2>/dev/null || true"]);
    expect(left.trim()).toBe("");
    // The volumes: dist/, the pipeline's Nx cache, the cache service's artifacts (unpacked).
    for (const volume of ["dist", "nx-cache", "nx-remote-cache"]) {
      const dir = await volumeDir(volume);
      expect(readdirSync(dir).length, volume).toBeGreaterThan(0);
      expect(filesHolding(dir, needles, { unpack: true }), volume).toEqual([]);
    }
    // The image's layers.
    const save = execa("docker", ["save", image as string], { buffer: false, reject: false, timeout: 240_000 });
    const saved = await streamHolding(save.stdout, needles);
    expect((await save).exitCode).toBe(0);
    expect(saved.bytes).toBeGreaterThan(100_000_000);
    expect(saved.found).toEqual([]);
    took("secrets searched");
  });

  it("leaves nothing behind once the stack is removed and the swarm left", { timeout: 300_000 }, async () => {
    const volumes = await stackVolumes(STACK);
    expect(volumes.sort()).toEqual(["dist", "nx-cache", "nx-remote-cache"].map((v) => `${STACK}_${v}`));
    expect(await swarmNetworks(STACK)).toContain("ingress");
    await removeEverything(STACK, SECRET_NAMES);
    took("stack removed, swarm left");
    expect(await swarmState()).toBe("inactive");
    expect(await stackContainers(STACK)).toEqual([]);
    expect(await stackVolumes(STACK)).toEqual([]);
    expect(await swarmNetworks(STACK)).toEqual([]);
    // Services and secrets went with the swarm: the engine has none to list.
    for (const what of ["service", "secret"]) {
      const r = await docker([what, "ls"]);
      expect(r.exitCode, what).not.toBe(0);
      expect(r.stderr, what).toMatch(/not a swarm manager/);
    }
  });
});
