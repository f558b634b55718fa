/**
 * The page in a real Chromium (Debian's, through playwright-core), from
 * file://, over a plan made in memory and records made as the executors make
 * them: states, counts, filtering, details, escaping, and the full matrix.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
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
});
