/**
 * /metrics of the status server and of the cache server, for real: records a
 * run leaves under dist/ (one image published, one build failed on a builder
 * that did not answer, one retried), the scrapes linted by Debian's promtool,
 * and a real Prometheus on loopback scraping both and answering queries.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIST_LAYOUT, type RunRecord } from "../../../libs/records/src";
import { SERVICE_RUN_FILE, type ServiceRun } from "../../../libs/status/src";
import { start } from "../../cache-server/src/main";
import { nxArtifact } from "../../cache-server/src/testing/artifacts";
import { parseOptions } from "../../nx-plugin/src/executors/options";
import { serveStatus, statusSource, type StatusOptions } from "../../nx-plugin/src/executors/status";
import { promtoolCheckMetrics, requirePrometheus, startPrometheus, type Prometheus } from "../prometheus";
import { createWorkspace, smallFixture, type Workspace } from "../workspace";

const OPTIONS: StatusOptions = parseOptions("status", { stagingRepo: "localhost:5000/opam-staging", publicRepo: "localhost:5000/opam", serve: true, host: "127.0.0.1", port: 0, rebuildPeriodDays: 7 });
const token = randomBytes(24).toString("hex");
const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString();
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, "0")}`;

let ws: Workspace;
let status: Server;
let statusUrl: string;
let cache: Server;
let cacheUrl: string;
let cacheDir: string;
let prometheus: Prometheus | undefined;

function record(file: string, value: unknown) {
  ws.write(file, JSON.stringify(value, null, 2) + "\n");
}

beforeAll(async () => {
  requirePrometheus();
  ws = createWorkspace({ fixture: smallFixture() });
  const source = statusSource(ws.dir, OPTIONS);
  const image = (name: string) => {
    const found = source.plan.images.find((i) => i.name === name);
    if (!found) throw new Error(`no ${name}`);
    return found;
  };
  // alpine-3.23-opam: built here (90 s, two registry retries) and published: ok.
  const alpine = image("alpine-3.23-opam");
  const build = alpine.builds[0]!;
  const run: RunRecord = { state: "succeeded", task: `${alpine.name}:build-amd64`, startedAt: ago(200), at: ago(110), reused: false, builder: "default", retries: 2, builderReachable: true };
  record(DIST_LAYOUT.buildRun("real", alpine.name, "amd64"), run);
  record(DIST_LAYOUT.buildRecord("real", alpine.name, "amd64"), {
    image: alpine.name, arch: "amd64", platform: "linux/amd64", stagingRepo: "localhost:5000/opam-staging", stagingTag: build.stagingTag, digest: digest(1), buildId: source.buildIdOf(build, null), dryRun: false,
  });
  record(DIST_LAYOUT.publishRecord("real", alpine.name), {
    image: alpine.name,
    publicRepo: "localhost:5000/opam",
    manifests: alpine.manifests.map((m, i) => ({ tag: m.tag, sources: [`localhost:5000/opam-staging@${digest(1)}`], changed: true, digest: digest(100 + i) })),
    dryRun: false,
  });
  // debian-13-opam on arm64: its builder did not answer.
  const failed: RunRecord = {
    state: "failed", task: "debian-13-opam:build-arm64", startedAt: ago(100), at: ago(99), message: "arm64 builder (ssh://root@127.0.0.1:2222) cannot be reached", logTail: [], builder: "ssh://root@127.0.0.1:2222", builderReachable: false,
  };
  record(DIST_LAYOUT.buildRun("real", "debian-13-opam", "arm64"), failed);
  const service: ServiceRun = { state: "succeeded", startedAt: ago(300), at: ago(50), commit: "0".repeat(40), period: "7d#1", counts: { succeeded: 3, failed: 0 } };
  record(SERVICE_RUN_FILE, service);

  status = await serveStatus(ws.dir, OPTIONS, () => {});
  const address = status.address();
  statusUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;

  cacheDir = mkdtempSync(join(tmpdir(), "obi-metrics-cache-"));
  writeFileSync(join(cacheDir, "rw"), `${token}\n`);
  const started = await start({ host: "127.0.0.1", port: 0, storage: { directory: join(cacheDir, "store") }, readWriteTokenFile: join(cacheDir, "rw"), maxBytes: 1 << 20 }, () => {});
  cache = started.server;
  cacheUrl = `http://127.0.0.1:${started.port}`;
  const auth = { Authorization: `Bearer ${token}` };
  const artifact = nxArtifact({ "out.txt": "hello" });
  expect((await fetch(`${cacheUrl}/v1/cache/aaaa`, { method: "PUT", body: artifact, headers: auth })).status).toBe(200);
  expect((await fetch(`${cacheUrl}/v1/cache/aaaa`, { headers: auth })).status).toBe(200);
  expect((await fetch(`${cacheUrl}/v1/cache/bbbb`, { headers: auth })).status).toBe(404);
});

afterAll(async () => {
  await prometheus?.stop();
  await new Promise((r) => status?.close(r));
  await new Promise((r) => cache?.close(r));
  ws?.dispose();
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
});

const scrape = async (url: string) => {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
};

describe("/metrics", () => {
  it("has upstream's names and labels on the status server, and promtool's lint passes", async () => {
    const text = await scrape(statusUrl);
    expect(await promtoolCheckMetrics(text)).toEqual({ exitCode: 0, problems: "" });
    expect(text).toContain('baseimages_pipeline_image_platform_state_total{platform="Alpine 3.23",state="ok"} 1');
    expect(text).toContain('baseimages_pipeline_image_platform_state_total{platform="Debian 13",state="failed"} 1');
    expect(text).toMatch(/baseimages_pipeline_image_version_state_total\{version="5\.4\.1",state="active"\} \d/);
    expect(text).toContain("baseimages_pipeline_valid_time 604800");
    expect(text).toMatch(/^baseimages_pipeline_last_build_time \d{10}/m);
    expect(text).toContain('baseimages_pipeline_build_duration_seconds_count{arch="amd64",builder="default"} 1');
    expect(text).toContain('baseimages_pipeline_build_duration_seconds_bucket{le="120",arch="amd64",builder="default"} 1');
    expect(text).toContain('baseimages_pipeline_registry_retries_total{task="build"} 2');
    expect(text).toContain('baseimages_pipeline_builder_unreachable{builder="ssh://root@127.0.0.1:2222"} 1');
    expect(text).toContain('baseimages_pipeline_builder_unreachable{builder="default"} 0');
    // A second scrape counts nothing twice.
    expect(await scrape(statusUrl)).toContain('baseimages_pipeline_registry_retries_total{task="build"} 2');
  });

  it("keeps the Host rule: a name that is not loopback is refused, unless the configuration allows it", async () => {
    const { request } = await import("node:http");
    const codeOf = (url: string, host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${url}/metrics`, { headers: { Host: host } }, (res) => (res.resume(), resolve(res.statusCode ?? 0)));
        req.once("error", reject).end();
      });
    expect(await codeOf(statusUrl, "evil.example")).toBe(403);
    expect(await codeOf(statusUrl, "status:8080")).toBe(403);
    const deployed = await serveStatus(ws.dir, { ...OPTIONS, allowedHosts: ["status", "images.example.org"] }, () => {});
    try {
      const address = deployed.address();
      const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
      expect(await codeOf(url, "status:8080")).toBe(200);
      expect(await codeOf(url, "Images.Example.org")).toBe(200);
      expect(await codeOf(url, "127.0.0.1")).toBe(200);
      expect(await codeOf(url, "evil.example")).toBe(403);
    } finally {
      await new Promise((r) => deployed.close(r));
    }
  });

  it("counts the cache server's hits, misses and bytes, and promtool's lint passes", async () => {
    const text = await scrape(cacheUrl);
    expect(await promtoolCheckMetrics(text)).toEqual({ exitCode: 0, problems: "" });
    expect(text).toContain("nx_cache_hits_total 1");
    expect(text).toContain("nx_cache_misses_total 1");
    expect(text).toMatch(/nx_cache_stored_bytes_total [1-9]\d*/);
    expect(text).toMatch(/nx_cache_read_bytes_total [1-9]\d*/);
    expect(text).toContain('nx_cache_requests_total{method="PUT",status="200"} 1');
  });

  it("is scraped by a real Prometheus on loopback, which answers queries over both", async () => {
    prometheus = await startPrometheus({ status: [statusUrl.slice("http://".length)], cache: [cacheUrl.slice("http://".length)] });
    const up = await prometheus.waitFor("up", (v) => v.length === 2 && v.every((s) => s.value === 1));
    expect(up.map((s) => s.metric.job).sort()).toEqual(["cache", "status"]);
    const failed = await prometheus.waitFor('sum by (platform) (baseimages_pipeline_image_platform_state_total{state="failed"})');
    expect(Object.fromEntries(failed.map((s) => [s.metric.platform, s.value]))).toEqual({ "Alpine 3.23": 0, "Debian 13": 1 });
    const hits = await prometheus.waitFor("nx_cache_hits_total");
    expect(hits.map((s) => s.value)).toEqual([1]);
  });
});
