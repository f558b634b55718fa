/**
 * The status after real runs: a real Docker engine and registry
 * (tools/ci/setup-docker.sh), the real nx binary, and Debian's Chromium
 * (tools/ci/setup-browser.sh). A small matrix is published with one arch made
 * to fail; then `nx run images:status` must tell every build's state, the
 * failure and the published tags with their digests, and the served page must
 * follow a build from building to built by itself.
 */
import { createServer } from "node:net";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statusSchema, type StatusDocument } from "../../../libs/status/src";
import { launchChromium } from "../browser";
import { createDockerWorkspace, dockerFixture, makeBaseBrokenOnArm64, makeTestBase, requireDockerEnvironment, testAlpine, type DockerEnvironment } from "../docker";
import { PROJECT_ROOT, type Workspace } from "../workspace";

let env: DockerEnvironment;
let ws: Workspace;
let browser: Browser;
let prefix: string;
const outputs: string[] = [];

const alpine = (name: string, version: string, tag: string, extra: Record<string, unknown> = {}) =>
  testAlpine(prefix, name, version, tag, { amd64: "", arm64: "" }, extra);

beforeAll(async () => {
  env = requireDockerEnvironment();
  browser = await launchChromium();
  prefix = `${env.registry}/s${Date.now().toString(36)}`;
  await makeTestBase(env, `${prefix}/base/alpine:3.23`, ["3.23b"]);
  await makeBaseBrokenOnArm64(env, `${prefix}/base/alpine:3.23`, `${prefix}/base/alpine:3.21`);
  const distros = [alpine("alpine-3.23", "3.23", "3.23", { default: true, aliases: ["alpine"] }), alpine("alpine-3.21", "3.21", "3.21")];
  ws = createDockerWorkspace(env, prefix, dockerFixture(distros, { releases: ["5.4.1"], variants: [] }));
  const first = await ws.nx(["run-many", "-t", "publish", "--exclude=archive", "--outputStyle=static"]);
  outputs.push(first.all);
  // alpine-3.21 cannot build for arm64, so the run fails; everything else is built.
  if (first.exitCode === 0 || !/alpine-3\.21-opam \(arm64\): build failed/.test(first.all)) throw new Error(`unexpected first run:\n${first.all.slice(-3000)}`);
}, 900_000);

afterAll(async () => {
  await browser?.close();
  ws?.dispose();
});

/** What this run should leave, build by build. */
const EXPECTED: Record<string, string> = {
  "alpine-3.23-opam/amd64": "published",
  "alpine-3.23-opam/arm64": "published",
  "alpine-3.23-ocaml-5.4/amd64": "published",
  "alpine-3.23-ocaml-5.4/arm64": "published",
  "archive/amd64": "not-built",
  "alpine-3.21-opam/amd64": "built",
  "alpine-3.21-opam/arm64": "failed",
  "alpine-3.21-ocaml-5.4/amd64": "built",
  "alpine-3.21-ocaml-5.4/arm64": "not-built",
};

describe("nx run images:status after a real run with one failing arch", () => {
  let status: StatusDocument;

  it("writes status.json, valid against its schema, listing every published tag with the registry's digests", async () => {
    const run = await ws.nxOk(["run", "images:status", "--outputStyle=static"]);
    outputs.push(run.all);
    expect(run.all).toContain("wrote dist/status/index.html and dist/status/status.json");
    const json = JSON.parse(ws.read("dist/status/status.json")) as unknown;
    status = statusSchema.parse(json);
    const states = Object.fromEntries(status.images.flatMap((i) => i.builds.map((b) => [`${i.name}/${b.arch}`, b.status.state])));
    expect(states).toEqual(EXPECTED);

    const published = status.images.filter((i) => i.publish.status.state === "published");
    expect(published.map((i) => i.name).sort()).toEqual(["alpine-3.23-ocaml-5.4", "alpine-3.23-opam"]);
    const wanted = published.flatMap((i) => i.publish.tags).sort();
    expect(status.tags.map((t) => t.tag).sort()).toEqual(wanted);
    expect(wanted).toContain(`${prefix}/opam:latest`);
    for (const tag of status.tags) {
      const manifest = await env.client.getManifest(tag.tag);
      expect(tag.digest, tag.tag).toBe(manifest?.digest);
      const platforms = (await env.client.platforms(tag.tag)) ?? [];
      expect(tag.arches.map((a) => `${a.arch} ${a.digest}`).sort(), tag.tag).toEqual(platforms.map((p) => `${p.platform?.architecture} ${p.digest}`).sort());
    }
    for (const build of status.staging) {
      expect((await env.client.getManifest(build.stagingTag))?.digest, build.stagingTag).toBe(build.digest);
      expect(build.buildId).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(status.staging.map((s) => `${s.image}/${s.arch}`).sort()).toEqual(Object.keys(EXPECTED).filter((k) => ["published", "built"].includes(EXPECTED[k] as string)).sort());
  });

  it("shows every cell, the counts, and the failure's log tail and re-run command in the page", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`file://${ws.path("dist/status/index.html")}`);
    const shown = await page.$$eval("button.cell:not(.pub)", (cells) => Object.fromEntries(cells.map((c) => [c.getAttribute("data-key"), (c.textContent ?? "").trim()])));
    expect(shown).toEqual(Object.fromEntries(Object.entries(EXPECTED).map(([k, s]) => [k, `${{ published: "★", built: "✓", failed: "✗", "not-built": "○" }[s]} ${s.replace("-", " ")}`])));
    const tally = (s: string) => String(Object.values(EXPECTED).filter((e) => e === s).length);
    for (const state of ["published", "built", "failed", "not-built", "queued", "building", "stale", "reused"]) {
      expect(await page.textContent(`button.count[data-state="${state}"] strong`), state).toBe(tally(state));
    }
    await page.click('button.cell[data-key="alpine-3.21-opam/arm64"]');
    const failure = status.images.find((i) => i.name === "alpine-3.21-opam")?.builds.find((b) => b.arch === "arm64")?.status;
    if (failure?.state !== "failed") throw new Error("alpine-3.21-opam/arm64 is not failed in status.json");
    const log = await page.textContent("#details pre.log");
    expect(log).toBe(failure.failure.logTail.join("\n"));
    // The tail is the failing build's own output, ending with the line that names it.
    expect(log).toMatch(/alpine-3\.21-opam \(arm64\): /);
    expect(failure.failure.message).toMatch(/alpine-3\.21-opam \(arm64\): build failed/);
    expect(await page.textContent("#details pre.rerun")).toBe("npx nx run alpine-3.21-opam:build-arm64");
    await page.fill("#filter", "state:failed");
    expect(await page.textContent("#shown")).toBe("1 of 9 builds shown");
    await page.close();
  });

  it("serves a live page on loopback that turns a cell from building to built as the build finishes", async () => {
    // The good base under a tag of its own for alpine-3.21: a Dockerfile no build has had, so a real build.
    ws.editJson("images/alpine-3.21/image.json", (j) => ((j.base as { tag: string }).tag = "3.23b"));
    const port = await freePort();
    const server = startNx(["run", "images:status", "--serve", `--port=${port}`, "--pollMs=100", "--outputStyle=static"]);
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/status.json`)).ok, 120_000);
      expect((await fetch(`http://127.0.0.1:${port}/dist/images/`)).status).toBe(404);
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(`http://127.0.0.1:${port}/`);
      const cell = 'button.cell[data-key="alpine-3.21-opam/amd64"]';
      await page.waitForSelector(`${cell}[data-state="stale"]`, { timeout: 30_000 });
      // Every state the page shows for the cell, in order: the page redraws by itself as it polls.
      await page.evaluate(`(() => {
        const seen = (window.__seen = []);
        const look = () => {
          const c = document.querySelector('${cell}');
          const s = c && c.textContent.trim();
          if (s && seen[seen.length - 1] !== s) seen.push(s);
        };
        new MutationObserver(look).observe(document.getElementById("matrix"), { childList: true, subtree: true });
        look();
      })()`);
      const build = ws.nx(["run", "alpine-3.21-opam:build-amd64", "--outputStyle=static"]);
      await page.waitForSelector(`${cell}[data-state="built"]`, { timeout: 400_000 });
      const seen = (await page.evaluate("window.__seen")) as string[];
      expect(seen[0]).toBe("! stale");
      expect(seen.slice(-2)).toEqual(["⟳ building", "✓ built"]);
      const result = await build;
      outputs.push(result.all);
      expect(result.exitCode, result.all.slice(-2000)).toBe(0);
      expect(await page.textContent("#live")).toMatch(/^live/);
      await page.close();
    } finally {
      if (server.pid) process.kill(-server.pid, "SIGTERM");
      await server.catch(() => undefined);
    }
  }, 600_000);

  it("never lets the registry password reach dist/status", () => {
    const password = env.credentials.password;
    for (const file of ["dist/status/status.json", "dist/status/index.html"]) expect(ws.read(file).includes(password), file).toBe(false);
    for (const output of outputs) expect(output.includes(password)).toBe(false);
  });
});

/** The real nx binary in the background, in a process group of its own so the test can stop what it started. */
function startNx(args: string[]): ResultPromise {
  return execa(join(PROJECT_ROOT, "node_modules/.bin/nx"), args, {
    cwd: ws.dir,
    detached: true,
    reject: false,
    env: { NX_DAEMON: "false", NX_NO_CLOUD: "true", NX_TUI: "false", FORCE_COLOR: "0", NX_CACHE_DIRECTORY: ws.path(".nx/cache") },
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error("timed out waiting for the status server");
    await new Promise((r) => setTimeout(r, 250));
  }
}

