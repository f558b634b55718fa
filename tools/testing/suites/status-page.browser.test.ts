/**
 * The page in a real Chromium (Debian's, through playwright-core), from
 * file://, over a plan made in memory and records made as the executors make
 * them: states, counts, filtering, details, escaping, and the full matrix.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMatrix } from "../../../libs/matrix/src";
import { makePlan, type Plan } from "../../../libs/plan/src";
import { launchChromium } from "../browser";
import { fakeBuildId, planOf, Records, REPOSITORIES } from "../status";
import { smallFixture } from "../workspace";
import { BUILD_STATES, makeStatus, renderPage, type StatusDocument, type StatusInput } from "../../../libs/status/src";

const ROOT = join(__dirname, "../../..");
const ARTIFACTS = join(ROOT, "dist/status-artifacts");
let browser: Browser;
const dir = mkdtempSync(join(tmpdir(), "obi-status-page-"));

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** Serves a page and a status.json the test changes, spaced as `nx run images:status --serve` writes it; counts the polls. */
async function serve(page: string, first: StatusDocument): Promise<{ url: string; set: (s: StatusDocument) => void; polls: () => number; close: () => Promise<void> }> {
  let json = JSON.stringify(first, null, 1) + "\n";
  let polls = 0;
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith("/status.json")) {
      polls++;
      res.writeHead(200, { "content-type": "application/json" }).end(json);
    } else res.writeHead(200, { "content-type": "text/html" }).end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    set: (s) => (json = JSON.stringify(s, null, 1) + "\n"),
    polls: () => polls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const T = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const dockerfilesOf = (plan: Plan) => new Map(plan.images.flatMap((i) => i.builds.map((b) => [`${i.name}/${b.arch}`, b.dockerfile] as const)));

async function open(name: string, plan: Plan, distros: StatusInput["distros"], records: Records): Promise<{ page: Page; status: StatusDocument; errors: string[] }> {
  const status = makeStatus({ plan, repositories: REPOSITORIES, distros, records: records.map, buildIdOf: fakeBuildId, generatedAt: T(99) });
  const file = join(dir, `${name}.html`);
  writeFileSync(file, renderPage(status, dockerfilesOf(plan)));
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(`file://${file}`);
  return { page, status, errors };
}

/** Each cell's state as the page shows it, by `image/arch`, from the text the reader sees. */
const shownStates = (page: Page) =>
  page.$$eval("button.cell", (cells) => Object.fromEntries(cells.map((c) => [c.getAttribute("data-key"), (c.querySelector(".badge")?.textContent ?? "").trim()])));

describe("the status page in Chromium", () => {
  it("shows every cell's state as text, the counts, and a failure's log tail and re-run command", async () => {
    const { plan, distros } = planOf();
    const r = new Records();
    const byId = new Map(plan.images.flatMap((i) => i.builds.map((b) => [b.id, b] as const)));
    const opam = r.built(byId.get("debian-13-opam/amd64")!, T(1), null);
    r.built(byId.get("debian-13-ocaml-5.4/amd64")!, T(2), opam.digest);
    r.buildRun(byId.get("debian-13-opam/arm64")!, {
      state: "failed",
      task: "debian-13-opam:build-arm64",
      startedAt: T(3),
      at: T(4),
      message: "build of debian-13-opam for arm64 failed: exit code 1",
      logTail: ["#7 [2/9] RUN apt-get update", "#7 0.1 exec /bin/sh: exec format error", "</script><b>not bold</b>"],
    });
    const { page, status, errors } = await open("states", plan, distros, r);
    const shown = await shownStates(page);
    for (const image of status.images) {
      for (const b of image.builds) expect(shown[`${image.name}/${b.arch}`], `${image.name}/${b.arch}`).toMatch(new RegExp(`${b.status.state.replace("-", " ")}$`));
    }
    expect(shown["debian-13-opam/arm64"]).toBe("✗ failed");
    for (const state of BUILD_STATES) {
      expect(await page.textContent(`button.count[data-state="${state}"] strong`), state).toBe(String(status.counts.builds[state]));
    }
    await page.click('button.cell[data-key="debian-13-opam/arm64"]');
    expect(await page.textContent("#details pre.log")).toBe("#7 [2/9] RUN apt-get update\n#7 0.1 exec /bin/sh: exec format error\n</script><b>not bold</b>");
    expect(await page.textContent("#details pre.rerun")).toBe("npx nx run debian-13-opam:build-arm64");
    await page.waitForFunction('!document.querySelector("#details pre.dockerfile").textContent.startsWith("loading")');
    expect(await page.textContent("#details pre.dockerfile")).toBe(byId.get("debian-13-opam/arm64")!.dockerfile);
    await page.click('button.cell[data-key="debian-13-ocaml-5.4/amd64"]');
    expect(await page.textContent("#details")).toContain(opam.digest === null ? "" : status.staging.find((s) => s.image === "debian-13-ocaml-5.4")?.buildId ?? "missing");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("filters by distro, compiler, arch and state", async () => {
    const { plan, distros } = planOf();
    const r = new Records();
    const failing = plan.images.find((i) => i.name === "alpine-3.23-ocaml-5.4")!.builds[0]!;
    r.buildRun(failing, { state: "failed", task: "x", startedAt: T(1), at: T(2), message: "failed", logTail: [] });
    const { page } = await open("filter", plan, distros, r);
    const visible = () =>
      page.$$eval("button.cell:not(.filtered)", (cells) =>
        cells.filter((c) => !c.closest("[hidden]")).map((c) => c.getAttribute("data-key") ?? ""),
      );
    const all = await visible();
    await page.fill("#filter", "arch:arm64");
    expect((await visible()).filter((k) => !k.endsWith("/manifests")).every((k) => k.endsWith("/arm64"))).toBe(true);
    expect(await page.textContent("#shown")).toBe(`${all.filter((k) => k.endsWith("/arm64")).length} of ${all.filter((k) => !k.endsWith("/manifests")).length} builds shown`);
    await page.fill("#filter", "distro:alpine compiler:5.4");
    expect(new Set((await visible()).map((k) => k.split("/")[0]))).toEqual(new Set(["alpine-3.23-ocaml-5.4"]));
    expect(await page.isHidden('section[data-distro="debian-13"]')).toBe(true);
    await page.fill("#filter", "");
    await page.click('button.count[data-state="failed"]');
    expect(await page.inputValue("#filter")).toBe("state:failed");
    expect(await visible()).toEqual([`${failing.image}/${failing.arch}`]);
    await page.fill("#filter", "Debian 13 state:not-built");
    const debian = await visible();
    expect(debian.length).toBeGreaterThan(0);
    expect(debian.every((k) => k.startsWith("debian-13-") || k.startsWith("archive"))).toBe(true);
    await page.close();
  });

  it("renders names from images/ as text: a distro titled with <script> runs nothing", async () => {
    const fixture = smallFixture();
    const evil = `<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">"'&amp;`;
    const distros = fixture.distros.map((d) => (d.name === "alpine-3.23" ? { ...d, json: { ...d.json, title: evil } } : d));
    const { plan, distros: infos } = planOf({ ...fixture, distros });
    const { page, errors } = await open("xss", plan, infos, new Records());
    expect(await page.textContent('section[data-distro="alpine-3.23"] h2')).toBe(`${evil} alpine-3.23`);
    expect(await page.evaluate("typeof window.__pwned")).toBe("undefined");
    expect(await page.$$eval("img", (imgs) => imgs.length)).toBe(0);
    expect(await page.$$eval("script", (s) => s.length)).toBe(3);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("draws the whole matrix of images/ and saves a screenshot", async () => {
    const matrix = loadMatrix(ROOT);
    const plan = makePlan(matrix, { repositories: REPOSITORIES, pins: "commit" });
    const distros = matrix.distros.map((d) => ({ name: d.name, title: d.title, family: d.family }));
    // Synthetic records, so the picture shows every state: a few of each, the rest built or published.
    const r = new Records();
    const all = plan.images.flatMap((i) => i.builds);
    const digests = new Map<string, string | null>();
    all.forEach((b, n) => {
      if (n % 17 === 3) r.buildRun(b, { state: "failed", task: `${b.image}:build-${b.arch}`, startedAt: T(1), at: T(2), message: "failed", logTail: ["exit 1"] });
      else if (n % 13 === 5) r.buildRun(b, { state: "running", task: "x", at: T(3) });
      else if (n % 11 === 7) r.buildRun(b, { state: "queued", task: "x", at: T(3) });
      else if (n % 3 !== 0) digests.set(b.id, r.built(b, T(1), (b.parent && digests.get(b.parent)) ?? null, { reused: n % 5 === 0 }).digest);
    });
    for (const image of plan.images.filter((_, n) => n % 2 === 0)) r.published(plan, image.name, T(4));
    const { page, status, errors } = await open("full", plan, distros, r);
    expect(await page.$$eval("button.cell:not(.pub)", (c) => c.length)).toBe(all.length);
    expect(status.counts.builds.failed).toBeGreaterThan(0);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "full-matrix.png"), fullPage: true });
    await page.screenshot({ path: join(ARTIFACTS, "full-matrix-top.png") });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("served, redraws only what changed: an opened or closed Dockerfile, and cells whose state held, stay as they were across polls", async () => {
    const { plan, distros } = planOf();
    const byId = new Map(plan.images.flatMap((i) => i.builds.map((b) => [b.id, b] as const)));
    const r = new Records();
    const opam = r.built(byId.get("debian-13-opam/amd64")!, T(1), null);
    const input = (generatedAt: string): StatusInput => ({ plan, repositories: REPOSITORIES, distros, records: r.map, buildIdOf: fakeBuildId, generatedAt });
    const first = makeStatus(input(T(10)));
    const server = await serve(renderPage(first, dockerfilesOf(plan), { pollMs: 50 }), first);
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    try {
      await page.goto(server.url);
      await page.click('button.cell[data-key="debian-13-opam/amd64"]');
      await page.waitForFunction('!document.querySelector("#details pre.dockerfile").textContent.startsWith("loading")');
      // The reader closes the Dockerfile; the nodes are marked to tell them from redrawn ones.
      await page.click("#details summary");
      await page.evaluate(`(() => {
        document.querySelector("#details details").__mark = "details";
        document.querySelector('button.cell[data-key="debian-13-opam/arm64"]').__mark = "cell";
      })()`);
      const marks = () =>
        page.evaluate(`(() => ({
          details: (document.querySelector("#details details") || {}).__mark || null,
          open: document.querySelector("#details details").open,
          cell: (document.querySelector('button.cell[data-key="debian-13-opam/arm64"]') || {}).__mark || null,
        }))()`);
      // Polls that bring only a new generatedAt draw nothing again.
      for (let i = 0; i < 5; i++) {
        server.set(makeStatus(input(T(20 + i))));
        const seen = server.polls();
        await waitUntil(() => server.polls() >= seen + 2);
      }
      expect(await marks()).toEqual({ details: "details", open: false, cell: "cell" });
      // Another build moves: its cell is drawn again, nothing else.
      r.built(byId.get("debian-13-ocaml-5.4/amd64")!, T(30), opam.digest);
      server.set(makeStatus(input(T(31))));
      await page.waitForSelector('button.cell[data-key="debian-13-ocaml-5.4/amd64"][data-state="built"]', { timeout: 10_000 });
      expect(await marks()).toEqual({ details: "details", open: false, cell: "cell" });
      expect(await page.textContent('button.count[data-state="built"] strong')).toBe("2");
      // The selected build moves: its details are drawn again, the Dockerfile still as the reader left it.
      r.buildRun(byId.get("debian-13-opam/amd64")!, { state: "running", task: "debian-13-opam:build-amd64", at: T(40) });
      server.set(makeStatus(input(T(41))));
      await page.waitForSelector('#details .state [data-state="building"]', { timeout: 10_000 });
      expect(await marks()).toEqual({ details: null, open: false, cell: "cell" });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      await server.close();
    }
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
