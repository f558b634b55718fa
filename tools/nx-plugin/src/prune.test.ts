import { describe, expect, it } from "vitest";
import { formatBytes, planPrune, type StagingManifest } from "./prune";

const m = (digest: string, created: string | undefined, blobs: [string, number][], tags = [digest]): StagingManifest => ({
  digest,
  tags,
  created: created ? new Date(created) : undefined,
  blobs: blobs.map(([d, size]) => ({ digest: d, size })),
});

describe("planPrune", () => {
  const cutoff = new Date("2026-11-01T00:00:00Z");
  const manifests = [
    m("old", "2026-10-01T00:00:00Z", [["a", 100], ["shared", 1000]]),
    m("old-referenced", "2026-10-01T00:00:00Z", [["b", 10]]),
    m("new", "2026-11-20T00:00:00Z", [["c", 5], ["shared", 1000]]),
    m("unknown-age", undefined, [["d", 7]]),
  ];

  it("deletes only what nothing references and was built before the cutoff; frees only blobs no kept manifest uses", () => {
    const plan = planPrune(manifests, new Set(["old-referenced"]), cutoff);
    expect(plan.delete.map((x) => x.digest)).toEqual(["old"]);
    expect(plan.keep.map((x) => x.digest)).toEqual(["old-referenced", "new", "unknown-age"]);
    expect(plan.freedBytes).toBe(100);
  });

  it("says sizes in binary units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(3 * 1024 * 1024)).toBe("3.0 MiB");
  });
});
