import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { IMAGES_LAYOUT } from "../../matrix/src/layout";
import { updatePins, type Upstream } from ".";

const WORKSPACE = join(__dirname, "../../..");
let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "obi-pins-"));
  cpSync(join(WORKSPACE, IMAGES_LAYOUT.dir), join(root, IMAGES_LAYOUT.dir), { recursive: true });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** An upstream where every branch and tag has moved to the same new value, each opam series with a new release. */
const movedEverything: Upstream = {
  branchHead: async () => "f".repeat(40),
  imageDigest: async () => `sha256:${"e".repeat(64)}`,
  tags: async () => ["2.0", "2.1", "2.2", "2.3", "2.4", "2.5"].map((series) => ({ name: `${series}.99`, commit: "f".repeat(40) })),
};

describe("updatePins", () => {
  it("moves the base pin of active distros only; a deprecated distro's base is left as it was", async () => {
    const file = IMAGES_LAYOUT.distroFile("debian-12");
    const json = JSON.parse(readFileSync(join(root, file), "utf8"));
    writeFileSync(join(root, file), JSON.stringify({ ...json, status: "deprecated", deprecatedOn: "2026-08-09" }, null, 2) + "\n");
    const changes = await updatePins(root, movedEverything, { write: false });
    const moved = new Set(changes.map((c) => c.file));
    expect(moved.has(file)).toBe(false);
    expect(moved.has(IMAGES_LAYOUT.distroFile("debian-13"))).toBe(true);
    expect(moved.has(IMAGES_LAYOUT.opam)).toBe(true);
  });
});
