/**
 * Registry faults: the real registry behind a fault-injecting proxy of ours
 * (tools/testing/fault-proxy.ts), our registry client and docker's pushes
 * both going through it. Each fault is tried on the client alone, then on
 * real `nx run-many -t publish` runs; after each run the public tags are read
 * from the registry itself, and while it runs a watcher checks that no tag
 * ever lists a partial set of arches. The figures are printed as a table.
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient, type RetryPolicy } from "../../../libs/docker/src";
import { createDockerWorkspace, dockerFixture, makeTestBase, requireDockerEnvironment, testAlpine, type DockerEnvironment } from "../docker";
import { startFaultProxy, type FaultKind, type FaultProxy, type FaultRule } from "../fault-proxy";
import { expectedTags, publishedProblems, watchTags } from "../published";
import type { Workspace } from "../workspace";

let env: DockerEnvironment;
let proxy: FaultProxy;
let ws: Workspace;
/** The test's path in the registry, e.g. `t1abc` (the same through the proxy and directly). */
let path: string;

const QUICK: RetryPolicy = { attempts: 4, withinMs: 20_000, firstDelayMs: 200, maxDelayMs: 2_000, requestTimeoutMs: 2_000 };

function client(lines: string[], waits: number[] = [], retry: RetryPolicy = QUICK): RegistryClient {
  return new RegistryClient({
    credentials: (registry) => (registry === proxy.registry ? env.credentials : undefined),
    retry,
    onRetry: (line) => lines.push(line),
    sleep: async (ms) => {
      waits.push(ms);
      await new Promise((r) => setTimeout(r, Math.min(ms, 50)));
    },
  });
}

beforeAll(async () => {
  env = requireDockerEnvironment();
  proxy = await startFaultProxy(env.registry);
  path = `f${Date.now().toString(36)}`;
  await makeTestBase(env, `${env.registry}/${path}/base/alpine:3.23`);
  const prefix = `${proxy.registry}/${path}`;
  const alpine = testAlpine(prefix, "alpine-3.23", "3.23", "3.23", { amd64: "", arm64: "" }, { default: true, aliases: ["alpine"] });
  ws = createDockerWorkspace(env, prefix, dockerFixture([alpine], { releases: ["5.4.1"], variants: [] }), { stagingRepo: `${prefix}/staging` });
}, 600_000);

afterAll(async () => {
  ws?.dispose();
  await proxy?.stop();
});

describe("the registry client through faults", () => {
  const manifestOf = async () => {
    const tag = `${env.registry}/${path}/base/alpine:3.23`;
    return (await env.client.getManifest(tag)) ?? expect.fail(`${tag} is missing`);
  };

  it("retries a burst of 500, 502 and 503, saying each retry", async () => {
    const m = await manifestOf();
    const lines: string[] = [];
    proxy.inject(
      { fault: { kind: "status", status: 500 }, method: "GET", path: /manifests/, times: 1 },
      { fault: { kind: "status", status: 502 }, method: "GET", path: /manifests/, times: 1 },
      { fault: { kind: "status", status: 503 }, method: "GET", path: /manifests/, times: 1 },
    );
    const got = await client(lines).getManifest(`${proxy.registry}/${path}/base/alpine:3.23`);
    expect(got?.digest).toBe(m.digest);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^${proxy.registry}: read ${proxy.registry}/${path}/base/alpine:3.23: HTTP 500; retrying in 0\\.2 s \\(try 2 of 4\\)$`));
    expect(lines[1]).toMatch(/HTTP 502; retrying in 0\.4 s \(try 3 of 4\)$/);
    expect(lines[2]).toMatch(/HTTP 503; retrying in 0\.8 s \(try 4 of 4\)$/);
    expect(proxy.clear()).toBe(0);
  });

  it("waits as long as Retry-After asks when that fits in the bound, and gives up at once when it does not", async () => {
    const lines: string[] = [];
    const waits: number[] = [];
    proxy.inject({ fault: { kind: "too-many-requests", retryAfterSeconds: 3 }, method: "GET", times: 1 });
    expect(await client(lines, waits).getManifest(`${proxy.registry}/${path}/base/alpine:3.23`)).toBeDefined();
    expect(waits).toEqual([3000]);
    expect(lines[0]).toMatch(/HTTP 429; retrying in 3\.0 s/);
    proxy.inject({ fault: { kind: "too-many-requests", retryAfterSeconds: 60 }, method: "GET", times: 1 });
    const error = await client([], waits).getManifest(`${proxy.registry}/${path}/base/alpine:3.23`).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      new RegExp(`cannot read ${proxy.registry}/${path}/base/alpine:3.23: HTTP 429; gave up after 1 try in .* \\(it asked to wait 60 s, beyond the 20 s bound\\)`),
    );
    expect(proxy.clear()).toBe(0);
  });

  it("sends a blob again whole when the connection is cut in the middle of it", async () => {
    const blob = randomBytes(256 * 1024);
    const digest = `sha256:${(await import("node:crypto")).createHash("sha256").update(blob).digest("hex")}`;
    const lines: string[] = [];
    proxy.inject({ fault: { kind: "reset-mid-blob", afterBytes: 64 * 1024 }, method: /PUT|PATCH/, path: /blobs\/uploads/, times: 1 });
    await client(lines).pushBlob(`${proxy.registry}/${path}/blobs`, digest, () => Readable.from([blob.subarray(0, 100_000), blob.subarray(100_000)]));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/upload blob sha256:\w+ to .*: .*; retrying/);
    expect(await env.client.hasBlob(`${env.registry}/${path}/blobs`, digest)).toBe(true);
    expect(proxy.seen.filter((r) => r.fault === "reset-mid-blob")).toHaveLength(1);
  });

  it("retries an answer slower than its time limit, and takes a slow one within it", async () => {
    const lines: string[] = [];
    proxy.inject({ fault: { kind: "slow", delayMs: 4_000 }, method: "GET", path: /manifests/, times: 1 });
    proxy.inject({ fault: { kind: "slow", delayMs: 500 }, method: "GET", path: /manifests/, times: 1 });
    expect(await client(lines).getManifest(`${proxy.registry}/${path}/base/alpine:3.23`)).toBeDefined();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/no answer within 2\.0 s; retrying/);
  });

  it("logs in again when its credentials are refused as expired", async () => {
    const lines: string[] = [];
    const c = client(lines);
    expect(await c.getManifest(`${proxy.registry}/${path}/base/alpine:3.23`)).toBeDefined();
    proxy.inject({ fault: { kind: "expired-token" }, times: 1 });
    expect(await c.getManifest(`${proxy.registry}/${path}/base/alpine:3.23`)).toBeDefined();
    // Refused again right after logging in: the credentials expired in between.
    proxy.inject({ fault: { kind: "expired-token" }, times: 1 });
    expect(await client(lines).getManifest(`${proxy.registry}/${path}/base/alpine:3.23`)).toBeDefined();
    expect(proxy.seen.filter((r) => r.fault === "expired-token")).toHaveLength(2);
  });

  it("gives up within its tries, naming the registry and what it tried", async () => {
    proxy.inject({ fault: { kind: "status", status: 503 }, times: 100 });
    const error = await client([]).putManifest(`${proxy.registry}/${path}/x:y`, { mediaType: "application/json", bytes: Buffer.from("{}") }).catch((e: unknown) => e as Error);
    proxy.clear();
    expect((error as Error).message).toMatch(new RegExp(`^cannot write ${proxy.registry}/${path}/x:y: HTTP 503; gave up after 4 tries in `));
  });
});

/** The lines of a run's output that say what failed, and the retries before. */
const failures = (output: string): string =>
  output
    .split("\n")
    .filter((line) => / failed|retrying|running it again|gave up/.test(line))
    .join("\n")
    .slice(-4000);

interface Figures {
  readonly scenario: string;
  readonly injected: Partial<Record<FaultKind, number>>;
  readonly firstRun: "survived" | "failed";
  readonly reruns: number;
  readonly problems: string[];
}
const figures: Figures[] = [];

/** A repository pair of its own per scenario, so every build and push happens under the fault. */
async function scenario(name: string, rules: FaultRule[], envExtra: Record<string, string> = {}): Promise<{ first: { exitCode: number; all: string }; figures: Figures }> {
  const n = figures.length + 1;
  const staging = `${proxy.registry}/${path}/s${n}`;
  const publicRepo = `${proxy.registry}/${path}/p${n}`;
  const direct = (ref: string) => ref.replace(proxy.registry, env.registry);
  const runEnv = { OBI_STAGING_REPO: staging, OBI_PUBLIC_REPO: publicRepo, OBI_REGISTRY_RETRIES: "4", OBI_REGISTRY_RETRY_SECONDS: "30", OBI_REGISTRY_TIMEOUT_SECONDS: "3", ...envExtra };
  const before = proxy.seen.length;
  proxy.inject(...rules);
  // The tags every image has: known after the first render; both arches each.
  const expected = new Map<string, string[]>([...expectedTags(ws)].map(([tag]) => [tag, ["amd64", "arm64"]]));
  const watcher = watchTags(env.client, direct(publicRepo), expected);
  const first = await ws.nx(["run-many", "-t", "publish", "--exclude=archive", "--outputStyle=static"], runEnv);
  proxy.clear();
  const injected: Partial<Record<FaultKind, number>> = {};
  for (const r of proxy.seen.slice(before)) if (r.fault) injected[r.fault] = (injected[r.fault] ?? 0) + 1;
  const problems: string[] = [];
  let reruns = 0;
  if (first.exitCode === 0) problems.push(...(await publishedProblems(ws, env.client, direct(publicRepo), direct)));
  else {
    reruns = 1;
    const again = await ws.nx(["run-many", "-t", "publish", "--exclude=archive", "--outputStyle=static"], runEnv);
    if (again.exitCode !== 0) problems.push(`the rerun failed: ${failures(again.all)}`);
    else problems.push(...(await publishedProblems(ws, env.client, direct(publicRepo), direct)));
  }
  problems.push(...(await watcher.stop()));
  const result: Figures = { scenario: name, injected, firstRun: first.exitCode === 0 ? "survived" : "failed", reruns, problems };
  figures.push(result);
  return { first, figures: result };
}

describe("nx run-many -t publish through registry faults", () => {
  it("publishes through bursts of 500, 502 and 503 on our requests and docker's, saying what it retried", async () => {
    // First a clean run: renders, and the tags the watcher follows.
    const { first, figures: f } = await scenario("none (baseline)", []);
    expect(first.exitCode, failures(first.all)).toBe(0);
    expect(f.problems).toEqual([]);
    const burst = await scenario("HTTP 500/502/503 bursts", [
      { fault: { kind: "status", status: 503 }, method: "GET", path: /manifests\/build-/, times: 2 },
      { fault: { kind: "status", status: 500 }, method: "PUT", path: /\/s\d+\/manifests\//, times: 1 },
      { fault: { kind: "status", status: 502 }, method: "HEAD", path: /blobs/, times: 2 },
      { fault: { kind: "status", status: 503 }, method: "PUT", path: /\/p\d+\/manifests\//, times: 1 },
    ]);
    expect(burst.first.exitCode, failures(burst.first.all)).toBe(0);
    expect(burst.figures.problems).toEqual([]);
    expect(burst.figures.injected.status).toBe(6);
    expect(burst.first.all).toMatch(/\((amd64|arm64)\): 127\.0\.0\.1:\d+: read 127\.0\.0\.1:\d+\/\S+:build-\w+: HTTP 503; retrying in/);
    expect(burst.first.all).toMatch(/: 127\.0\.0\.1:\d+: build and push .* for linux\/(amd64|arm64): .*(500|502).*; running it again in/);
    expect(burst.first.all).toMatch(/alpine-3\.23-\S+: 127\.0\.0\.1:\d+: write 127\.0\.0\.1:\d+\/\S+\/p\d+[:@]\S+: HTTP 503; retrying in/);
  });

  it("publishes through 429s, honouring Retry-After", async () => {
    const r = await scenario("429 with Retry-After: 1", [
      { fault: { kind: "too-many-requests", retryAfterSeconds: 1 }, method: "GET", path: /manifests\/build-/, times: 1 },
      { fault: { kind: "too-many-requests", retryAfterSeconds: 1 }, method: "PUT", path: /manifests/, times: 2 },
    ]);
    expect(r.first.exitCode, failures(r.first.all)).toBe(0);
    expect(r.figures.problems).toEqual([]);
    expect(r.first.all).toMatch(/HTTP 429; retrying in 1\.0 s/);
  });

  it("publishes through connections cut in the middle of a blob", async () => {
    const r = await scenario("connection reset mid-blob", [
      { fault: { kind: "reset-mid-blob", afterBytes: 16 * 1024 }, method: /PUT|PATCH/, path: /blobs\/uploads/, times: 2 },
    ]);
    expect(r.first.exitCode, failures(r.first.all)).toBe(0);
    expect(r.figures.problems).toEqual([]);
    expect(r.figures.injected["reset-mid-blob"]).toBe(2);
  });

  it("publishes through slow answers, retrying one slower than the time limit", async () => {
    const r = await scenario("slow responses (1 s ×6, 5 s ×1)", [
      { fault: { kind: "slow", delayMs: 5_000 }, method: "GET", path: /manifests\/build-/, times: 1 },
      { fault: { kind: "slow", delayMs: 1_000 }, times: 6 },
    ]);
    expect(r.first.exitCode, failures(r.first.all)).toBe(0);
    expect(r.figures.problems).toEqual([]);
    expect(r.first.all).toMatch(/no answer within 3\.0 s; retrying/);
  });

  it("publishes through 401s on expired credentials", async () => {
    const r = await scenario("401 on an expired token", [
      { fault: { kind: "expired-token" }, method: "GET", path: /manifests\/build-/, times: 1 },
      { fault: { kind: "expired-token" }, method: "PUT", path: /manifests/, times: 2 },
    ]);
    expect(r.first.exitCode, failures(r.first.all)).toBe(0);
    expect(r.figures.problems).toEqual([]);
  });

  it("gives up on a registry that keeps failing pushes, naming image, arch and registry; a rerun converges", async () => {
    const r = await scenario("503 on every staging push (give up)", [{ fault: { kind: "status", status: 503 }, method: "PUT", path: /\/s\d+\/manifests\//, times: 1000 }], {
      OBI_REGISTRY_RETRIES: "2",
    });
    expect(r.first.exitCode).not.toBe(0);
    expect(r.first.all).toMatch(
      /alpine-3\.23-opam \((amd64|arm64)\): build failed: build and push 127\.0\.0\.1:\d+\/\S+ for linux\/(amd64|arm64): 127\.0\.0\.1:\d+ failed it: .*503.*; gave up after 2 tries/,
    );
    expect(r.figures.reruns).toBe(1);
    expect(r.figures.problems).toEqual([]);
  });

  it("gives up on a registry that keeps refusing manifest lists, naming image and registry; a rerun converges", async () => {
    const r = await scenario("502 on every public push (give up)", [{ fault: { kind: "status", status: 502 }, method: "PUT", path: /\/p\d+\/manifests\//, times: 1000 }], {
      OBI_REGISTRY_RETRIES: "2",
    });
    expect(r.first.exitCode).not.toBe(0);
    expect(r.first.all).toMatch(/alpine-3\.23-\S+: publish failed: cannot write 127\.0\.0\.1:\d+\/\S+\/p\d+[:@]\S+: HTTP 502; gave up after 2 tries in /);
    expect(r.figures.problems).toEqual([]);
  });

  afterAll(() => {
    const kinds = (i: Figures["injected"]) => Object.entries(i).map(([k, n]) => `${k} ×${n}`).join(", ") || "—";
    const rows = figures.map((f) => `| ${f.scenario} | ${kinds(f.injected)} | ${f.firstRun} | ${f.reruns} | ${f.problems.length ? f.problems.join("; ") : "nothing"} |`);
    console.log(["| scenario | faults injected | first run | reruns needed | lost or wrong after |", "| --- | --- | --- | --- | --- |", ...rows].join("\n"));
  });
});
