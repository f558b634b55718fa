/**
 * A dry run's records never pass for builds, and records count only for what
 * they were made for. Through the real nx binary, a real engine and the
 * loopback registry, on a tiny matrix (one Alpine on amd64, one compiler):
 * - a dry run of every Linux image leaves a status with no build built, reused,
 *   published, stale or failed, and says "would build" / "would publish";
 * - after a real publish, a dry run (replayed from Nx's cache, run again, or
 *   asked for with --dryRun) leaves every real record and the status as they were;
 * - a real run refuses a dry run's record where a real one belongs, and every
 *   reader refuses a hand-edited record in one line naming file, field, value
 *   and the command that writes it again;
 * - a public repository never pushed to shows nothing published.
 */
import { readdirSync, readFileSync, existsSync, copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statusSchema, type StatusDocument } from "../../../libs/status/src";
import { launchChromium } from "../browser";
import { createDockerWorkspace, dockerFixture, makeTestBase, requireDockerEnvironment, testAlpine, type DockerEnvironment } from "../docker";
import type { Workspace } from "../workspace";

let env: DockerEnvironment;
let ws: Workspace;
let browser: Browser;
let prefix: string;

const OPAM = "alpine-3.23-opam";
const COMPILER = "alpine-3.23-ocaml-5.4";
const DRY = { OBI_DRY_RUN: "1" };
const publishAll = (extra: string[] = [], runEnv: Record<string, string> = {}) =>
  ws.nxOk(["run-many", "-t", "publish", "--exclude=archive", "--outputStyle=static", ...extra], runEnv);

async function status(runEnv: Record<string, string> = {}): Promise<StatusDocument> {
  await ws.nxOk(["run", "images:status", "--outputStyle=static"], runEnv);
  return statusSchema.parse(JSON.parse(ws.read("dist/status/status.json")));
}

const buildStates = (s: StatusDocument) => Object.fromEntries(s.images.flatMap((i) => i.builds.map((b) => [`${i.name}/${b.arch}`, b.status.state])));
const publishStates = (s: StatusDocument) => Object.fromEntries(s.images.map((i) => [i.name, i.publish.status.state]));

/** Every file under dist/images/ but the status and the render, with its bytes: the real records. */
function realRecords(): Map<string, string> {
  const files = new Map<string, string>();
  const root = ws.path("dist/images");
  if (!existsSync(root)) return files;
  for (const image of readdirSync(root)) {
    for (const file of readdirSync(join(root, image))) {
      if (file.endsWith(".json") && !file.endsWith(".run.json")) files.set(`${image}/${file}`, readFileSync(join(root, image, file), "utf8"));
    }
  }
  return files;
}

/** Every value under a key named digest in status.json. */
function digestFields(value: unknown, into: unknown[] = []): unknown[] {
  if (Array.isArray(value)) value.forEach((v) => digestFields(v, into));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "digest") into.push(v);
      else digestFields(v, into);
    }
  }
  return into;
}

beforeAll(async () => {
  env = requireDockerEnvironment();
  browser = await launchChromium();
  prefix = `${env.registry}/d${Date.now().toString(36)}`;
  await makeTestBase(env, `${prefix}/base/alpine:3.23`, [], ["amd64"]);
  const distros = [testAlpine(prefix, "alpine-3.23", "3.23", "3.23", { amd64: "" }, { default: true, aliases: ["alpine"] })];
  ws = createDockerWorkspace(env, prefix, dockerFixture(distros, { releases: ["5.4.1"], variants: [] }));
}, 300_000);

afterAll(async () => {
  await browser?.close();
  ws?.dispose();
});

describe("a dry run's records never pass for builds", () => {
  let afterReal: StatusDocument;

  it("after a dry run of every Linux image, nothing counts as built, reused, published, stale or failed; the status and the page say would build", async () => {
    await publishAll([], DRY);
    expect(realRecords()).toEqual(new Map());
    const s = await status();
    for (const state of ["built", "reused", "published", "stale", "failed"] as const) expect(s.counts.builds[state], state).toBe(0);
    expect(buildStates(s)).toEqual({ [`${OPAM}/amd64`]: "would-build", [`${COMPILER}/amd64`]: "would-build", "archive/amd64": "not-built" });
    expect(publishStates(s)).toEqual({ [OPAM]: "would-publish", [COMPILER]: "would-publish", archive: "not-published" });
    expect(s.counts.publishes.published + s.counts.publishes.stale).toBe(0);
    expect(s.staging).toEqual([]);
    expect(s.tags).toEqual([]);
    for (const d of digestFields(s)) expect(d).toMatch(/^sha256:[0-9a-f]{64}$/);

    const page = await browser.newPage();
    await page.goto(`file://${ws.path("dist/status/index.html")}`);
    expect((await page.textContent(`button.cell[data-key="${OPAM}/amd64"]`))?.trim()).toMatch(/would build$/);
    expect((await page.textContent(`button.cell[data-key="${COMPILER}/manifests"] .badge`))?.trim()).toMatch(/would publish$/);
    expect(await page.textContent('button.count[data-state="built"] strong')).toBe("0");
    expect(await page.textContent('button.count[data-state="would-build"] strong')).toBe("2");
    await page.close();
  });

  it("after a real publish, every image is published", async () => {
    await publishAll();
    afterReal = await status();
    expect(buildStates(afterReal)).toEqual({ [`${OPAM}/amd64`]: "published", [`${COMPILER}/amd64`]: "published", "archive/amd64": "not-built" });
    expect(publishStates(afterReal)).toEqual({ [OPAM]: "published", [COMPILER]: "published", archive: "not-published" });
    for (const d of digestFields(afterReal)) expect(d).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("a dry run after it, from Nx's cache, run again, or asked for with --dryRun, leaves the real records and the status as they were", async () => {
    const before = realRecords();
    expect(before.size).toBe(4);
    const replay = await publishAll([], DRY);
    // The first dry run's tasks, replayed: Nx restores only what a dry run declares.
    expect(replay.all).toMatch(/\[local cache\]/);
    expect(realRecords()).toEqual(before);
    await publishAll(["--skip-nx-cache"], DRY);
    expect(realRecords()).toEqual(before);
    await publishAll(["--dryRun"]);
    expect(realRecords()).toEqual(before);
    const s = await status();
    expect(buildStates(s)).toEqual(buildStates(afterReal));
    expect(publishStates(s)).toEqual(publishStates(afterReal));
    expect(s.tags).toEqual(afterReal.tags);
  });

  it("a real run refuses a dry run's record where a real one belongs, in one line naming the file, the field and the command", async () => {
    const real = ws.path(`dist/images/${OPAM}/build-amd64.json`);
    const kept = readFileSync(real, "utf8");
    try {
      copyFileSync(ws.path(`dist/dry-run/${OPAM}/build-amd64.json`), real);
      const run = await ws.nx(["run", `${COMPILER}:build-amd64`, "--exclude-task-dependencies", "--skip-nx-cache", "--outputStyle=static"]);
      expect(run.exitCode).not.toBe(0);
      expect(run.all).toContain(
        `dist/images/${OPAM}/build-amd64.json: dryRun: a dry run's record where a real build's belongs (found true); write it again: npx nx run ${OPAM}:build-amd64 --skip-nx-cache`,
      );
      const shown = await ws.nx(["run", "images:status", "--outputStyle=static"]);
      expect(shown.exitCode).not.toBe(0);
      expect(shown.all).toMatch(new RegExp(`dist/images/${OPAM}/build-amd64\\.json: dryRun: .*\\(found true\\); write it again: npx nx run ${OPAM}:build-amd64 --skip-nx-cache`));
    } finally {
      writeFileSync(real, kept);
    }
  });

  it("every reader refuses a hand-edited record: a staging tag where a digest belongs", async () => {
    const file = `dist/images/${COMPILER}/build-amd64.json`;
    const kept = ws.read(file);
    const record = JSON.parse(kept) as { digest: string; stagingTag: string };
    const edited = { ...record, digest: record.stagingTag };
    try {
      ws.write(file, JSON.stringify(edited, null, 2));
      const shown = await ws.nx(["run", "images:status", "--outputStyle=static"]);
      expect(shown.exitCode).not.toBe(0);
      const line = `${file}: digest: not a sha256 digest (found ${JSON.stringify(record.stagingTag)}); write it again: npx nx run ${COMPILER}:build-amd64 --skip-nx-cache`;
      expect(shown.all).toContain(line);
      const publish = await ws.nx(["run", `${COMPILER}:publish`, "--exclude-task-dependencies", "--skip-nx-cache", "--outputStyle=static"]);
      expect(publish.exitCode).not.toBe(0);
      expect(publish.all).toContain(line);
    } finally {
      ws.write(file, kept);
    }
  });
});

describe("records count for the repositories they were made for", () => {
  it("a public repository never pushed to shows nothing published, and a staging one never built to nothing built", async () => {
    const otherPublic = await status({ OBI_PUBLIC_REPO: `${prefix}/never-pushed` });
    expect(otherPublic.repositories.public).toBe(`${prefix}/never-pushed`);
    expect(otherPublic.counts.publishes.published).toBe(0);
    expect(otherPublic.counts.builds.published).toBe(0);
    expect(otherPublic.tags).toEqual([]);
    expect(publishStates(otherPublic)[OPAM]).toBe("not-published");
    expect(buildStates(otherPublic)[`${OPAM}/amd64`]).toBe("built");

    const otherStaging = await status({ OBI_STAGING_REPO: `${prefix}/never-built` });
    expect(otherStaging.counts.builds.built + otherStaging.counts.builds.published + otherStaging.counts.builds.reused).toBe(0);
    expect(otherStaging.staging).toEqual([]);
    const opam = otherStaging.images.find((i) => i.name === OPAM)?.builds[0]?.status;
    expect(opam).toEqual({ state: "not-built", note: `its record is of a build for ${prefix}/opam-staging, not ${prefix}/never-built` });
  });
});
