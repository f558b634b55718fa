/**
 * The render inputs leave some fields of images/ out of an image's hash. That is
 * only safe if those fields really decide none of the image's Dockerfiles, build
 * contexts or tags: here each left-out field is changed in the real matrix, and
 * every image of the kinds that leave it out must plan exactly as before.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadMatrix } from "../../../libs/matrix/src";
import { makePlan, type Image, type ImageKind, type Plan } from "../../../libs/plan/src";
import { PROJECT_ROOT } from "../../testing/workspace";
import { DEPRECATION_BASE_FIELDS, OPAM_COMPILER_FIELDS, UNDECIDING_DISTRO_FIELDS } from "./nodes";

type Json = Record<string, unknown>;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A copy of the real images/ with one edit, planned. */
function planWith(edit: (read: (file: string) => Json, write: (file: string, json: Json) => void) => void): Plan {
  const root = mkdtempSync(join(tmpdir(), "obi-inputs-"));
  dirs.push(root);
  cpSync(join(PROJECT_ROOT, "images"), join(root, "images"), { recursive: true });
  const read = (file: string) => JSON.parse(readFileSync(join(root, "images", file), "utf8")) as Json;
  const write = (file: string, json: Json) => writeFileSync(join(root, "images", file), JSON.stringify(json));
  edit(read, write);
  // A day after Alpine 3.23's grace period, so its deprecation image is planned too.
  return makePlan(loadMatrix(root), {
    repositories: { staging: "s/staging", public: "p/public" },
    pins: "commit",
    retirement: { now: new Date("2026-12-04T00:00:00Z"), graceDays: 90 },
  });
}

/** All that an image's render writes: each build's Dockerfile, context and base, and its tags with their sources. */
const rendered = (image: Image) => ({
  builds: image.builds.map((b) => ({ arch: b.arch, dockerfile: b.dockerfile, context: b.context, base: b.base, parent: b.parent })),
  manifests: image.manifests,
});

function expectSameImages(before: Plan, after: Plan, kind: ImageKind, what: string): void {
  const old = new Map(before.images.filter((i) => i.kind === kind).map((i) => [i.name, i]));
  const now = after.images.filter((i) => i.kind === kind);
  expect(now.length, what).toBe(old.size);
  for (const image of now) {
    const was = old.get(image.name);
    expect(was, `${what}: ${image.name}`).toBeDefined();
    expect(rendered(image), `${what}: ${image.name}`).toEqual(rendered(was as Image));
  }
}

const distroFiles = readdirSync(join(PROJECT_ROOT, "images"), { withFileTypes: true })
  .filter((e) => e.isDirectory() && e.name !== "schema")
  .map((e) => `${e.name}/image.json`);
const active = (file: string) => JSON.parse(readFileSync(join(PROJECT_ROOT, "images", file), "utf8")).status !== "deprecated";
/** Active Linux distros: the ones aliases and the default can move between. */
const linux = (file: string) => !file.startsWith("windows") && active(file);
const baseline = planWith(() => {});

/** Ways to change each left-out field; every one must leave the kinds that leave it out unchanged. */
const edits: Record<string, ((read: (f: string) => Json, write: (f: string, j: Json) => void) => void)[]> = {
  title: [(read, write) => distroFiles.forEach((f) => write(f, { ...read(f), title: `${String(read(f).title)} (renamed)` }))],
  $schema: [(read, write) => distroFiles.forEach((f) => write(f, { ...read(f), $schema: "elsewhere.json" }))],
  aliases: [
    // Every alias moves to another distro of the same OS.
    (read, write) => {
      const files = distroFiles.filter(linux);
      const aliases = files.map((f) => read(f).aliases ?? []);
      files.forEach((f, i) => write(f, { ...read(f), aliases: aliases[(i + 1) % files.length] }));
    },
  ],
  default: [
    (read, write) => {
      const files = distroFiles.filter(linux);
      const current = files.find((f) => read(f).default === true) as string;
      const next = files.find((f) => f !== current && "amd64" in (read(f).arches as Json)) as string;
      write(current, { ...read(current), default: false });
      write(next, { ...read(next), default: true });
    },
  ],
  tier: [(read, write) => distroFiles.filter(linux).forEach((f) => write(f, { ...read(f), tier: read(f).tier === 1 ? 2 : 1 }))],
  prereleases: [(read, write) => distroFiles.forEach((f) => write(f, { ...read(f), prereleases: read(f).prereleases === false }))],
};

describe("fields left out of a render's hash decide nothing about it", () => {
  for (const kind of Object.keys(UNDECIDING_DISTRO_FIELDS) as ImageKind[]) {
    for (const field of UNDECIDING_DISTRO_FIELDS[kind]) {
      it(`${field} of image.json, for ${kind} images`, () => {
        const ways = edits[field];
        expect(ways, `no edit of ${field} is tried`).toBeDefined();
        for (const edit of ways ?? []) expectSameImages(baseline, planWith(edit), kind, `${field} changed`);
      });
    }
  }

  it(`compilers.json but for ${OPAM_COMPILER_FIELDS.join(", ")}, for opam images`, () => {
    const compilers = JSON.parse(readFileSync(join(PROJECT_ROOT, "images/compilers.json"), "utf8")) as Json;
    const other = Object.keys(compilers).filter((k) => !(OPAM_COMPILER_FIELDS as readonly string[]).includes(k) && k !== "$schema");
    expect(other.length).toBeGreaterThan(0);
    for (const key of other) {
      const changed = planWith((read, write) => {
        const json = read("compilers.json");
        write("compilers.json", { ...json, [key]: Array.isArray(json[key]) ? [] : json[key] });
      });
      expectSameImages(baseline, changed, "opam", `compilers.json ${key} emptied`);
    }
  });

  it(`the base Alpine's image.json but for ${DEPRECATION_BASE_FIELDS.join(", ")}, for deprecation images`, () => {
    expect(baseline.images.filter((i) => i.kind === "deprecated").map((i) => i.retired?.baseDistro)).toEqual(["alpine-3.24"]);
    const changed = planWith((read, write) => {
      const json = read("alpine-3.24/image.json");
      write("alpine-3.24/image.json", { ...json, gcc: "99.1", bubblewrap: "0.1.0", tier: 3, arches: { amd64: ">=5.0.0" }, aliases: [] });
    });
    expectSameImages(baseline, changed, "deprecated", "the base Alpine's other fields changed");
    const rebased = planWith((read, write) => {
      const json = read("alpine-3.24/image.json");
      write("alpine-3.24/image.json", { ...json, base: { image: "alpine", tag: "3.24.9" } });
    });
    expect(() => expectSameImages(baseline, rebased, "deprecated", "base")).toThrow();
  });

  it("and the check itself can fail: a field that does decide (gcc) changes compiler images", () => {
    const changed = planWith((read, write) => distroFiles.filter(linux).forEach((f) => write(f, { ...read(f), gcc: "15.2" })));
    expect(() => expectSameImages(baseline, changed, "compiler", "gcc")).toThrow();
  });
});
