/**
 * The status of the whole matrix: making the status model and the page, the
 * page's size, and its first paint in Chromium (Debian's, tools/ci/setup-browser.sh).
 * Two cases: nothing built (an empty dist/), and every build recorded with run
 * records beside them and every image published (the largest page). Records are
 * synthetic but written to disk, so reading them is measured too. Prints medians.
 *
 *   npm run bench:status [-- --runs 20 --paints 5]
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { makeStatus, renderPage, type StatusDocument } from "../../libs/status/src";
import { currentStatus, readRecords, statusSource } from "../nx-plugin/src/executors/status";
import { statusOptionsSchema } from "../nx-plugin/src/executors/options";
import { writeWhole } from "../nx-plugin/src/executors/shared";
import { launchChromium } from "../testing/browser";
import { readCommandLine } from "../cli/cli";
import { Records } from "../testing/status";

const values = readCommandLine({
  name: "bench:status",
  usage: "npm run bench:status [-- --runs=20 --paints=5]",
  summary: "Times the status of the whole matrix: the model, the page, its size and its first paint in Chromium; prints medians.",
  options: {
    runs: { kind: "count", value: "n", default: 20, description: "how many times to make the model and the page" },
    paints: { kind: "count", value: "n", default: 5, description: "how many first paints to measure in Chromium" },
  },
} as const);
const runs = values.runs;
const paints = values.paints;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const ROOT = process.cwd();
const options = statusOptionsSchema.parse({ stagingRepo: "localhost:5000/opam-staging", publicRepo: "localhost:5000/opam" });

/** A workspace root whose images/ is this one's and whose dist/ holds the given records. */
function workspaceWith(records: Records | undefined): string {
  const root = mkdtempSync(join(tmpdir(), "obi-bench-status-"));
  symlinkSync(join(ROOT, "images"), join(root, "images"));
  if (records) {
    for (const [image, r] of records.map) {
      const dir = join(root, "dist/images", image);
      for (const [arch, dated] of r.builds) writeWhole(join(dir, `build-${arch}.json`), JSON.stringify(dated.record, null, 2));
      for (const [arch, run] of r.buildRuns) writeWhole(join(dir, `build-${arch}.run.json`), JSON.stringify(run, null, 2));
      if (r.publish) writeWhole(join(dir, "publish.json"), JSON.stringify(r.publish.record, null, 2));
      if (r.publishRun) writeWhole(join(dir, "publish.run.json"), JSON.stringify(r.publishRun, null, 2));
    }
  }
  return root;
}

const t0 = performance.now();
const source = statusSource(ROOT, options);
const planMs = performance.now() - t0;
const builds = source.plan.images.flatMap((i) => i.builds);

// Every build recorded (with its real build id, so none is stale) and succeeded; every image published.
const full = new Records();
const at = new Date(Date.now() - 60_000).toISOString();
const digests = new Map<string, string | null>();
for (const b of builds) {
  const parentDigest = (b.parent && digests.get(b.parent)) ?? null;
  const record = full.built(b, at, parentDigest, { buildId: source.buildIdOf(b, parentDigest), stagingRepo: options.stagingRepo });
  digests.set(b.id, record.digest);
  full.buildRun(b, { state: "succeeded", task: `${b.image}:build-${b.arch}`, startedAt: at, at });
}
for (const image of source.plan.images) full.published(source.plan, image.name, new Date().toISOString(), options.publicRepo);

async function main(): Promise<void> {
  const browser = await launchChromium();
  console.log(`status benchmark: ${builds.length} builds, ${source.plan.images.length} images; ${runs} runs, ${paints} paints (medians)`);
  console.log(`  plan + Dockerfiles + build ids (once per server start): ${planMs.toFixed(0)} ms`);
  for (const [name, records] of [["nothing built", undefined], ["all built and published", full]] as const) {
    const root = workspaceWith(records);
    const times = { read: [] as number[], model: [] as number[], page: [] as number[] };
    let html = "";
    let status: StatusDocument | undefined;
    for (let i = 0; i < runs; i++) {
      const a = performance.now();
      const read = readRecords(root, source.plan);
      const b = performance.now();
      status = makeStatus({ ...source, records: read, generatedAt: new Date().toISOString() });
      const c = performance.now();
      html = renderPage(status, source.dockerfiles);
      const d = performance.now();
      times.read.push(b - a);
      times.model.push(c - b);
      times.page.push(d - c);
    }
    const json = JSON.stringify(currentStatus(root, source));
    const file = join(root, "index.html");
    writeFileSync(file, html);
    const paintTimes: number[] = [];
    for (let i = 0; i < paints; i++) {
      const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
      await page.goto(`file://${file}`, { waitUntil: "load" });
      const fcp = await page.evaluate(
        "new Promise((resolve) => { const look = () => { const e = performance.getEntriesByName('first-contentful-paint')[0]; e ? resolve(e.startTime) : setTimeout(look, 20); }; look(); })",
      );
      paintTimes.push(Number(fcp));
      await page.close();
    }
    const model = median(times.model);
    const page = median(times.page);
    console.log(`  ${name}: ${status?.counts.builds["not-built"]} not built, ${status?.counts.builds.published} published`);
    console.log(`    read dist/ records          ${median(times.read).toFixed(1)} ms`);
    console.log(`    status model                ${model.toFixed(1)} ms`);
    console.log(`    page                        ${page.toFixed(1)} ms`);
    console.log(`    model + page                ${(model + page).toFixed(1)} ms  (target ≤ 200 ms: ${((model + page) / 200).toFixed(2)}× of it)`);
    console.log(`    page size                   ${(Buffer.byteLength(html) / 1024).toFixed(0)} KiB (target ≤ 1024 KiB); status.json ${(Buffer.byteLength(json) / 1024).toFixed(0)} KiB`);
    console.log(`    first contentful paint      ${median(paintTimes).toFixed(0)} ms  (target ≤ 1000 ms)`);
    rmSync(root, { recursive: true, force: true });
}
await browser.close();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
