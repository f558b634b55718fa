import { describe, expect, it } from "vitest";
import type { Build } from "../../plan/src";
import { fakeBuildId, planOf, Records, REPOSITORIES } from "../../../tools/testing/status";
import { imageHealth, lastBuildTime, makeStatus, platformStates, versionStates } from ".";

const { plan, distros } = planOf();
const build = (id: string): Build => plan.images.flatMap((i) => i.builds).find((b) => b.id === id) as Build;
const T = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const statusOf = (r: Records) => makeStatus({ plan, repositories: REPOSITORIES, distros, records: r.map, buildIdOf: fakeBuildId, generatedAt: T(99) });
const healthOf = (r: Records, image: string) => imageHealth(statusOf(r).images.find((i) => i.name === image)!);

describe("upstream's image states", () => {
  it("calls an image ok only when every build is current and its manifests are published", () => {
    const r = new Records();
    r.built(build("alpine-3.23-opam/amd64"), T(1), null);
    expect(healthOf(r, "alpine-3.23-opam")).toBe("active");
    r.published(plan, "alpine-3.23-opam", T(2));
    expect(healthOf(r, "alpine-3.23-opam")).toBe("ok");
    expect(healthOf(r, "debian-13-opam")).toBe("active");
  });

  it("calls an image failed when a build failed or was skipped for a failed one", () => {
    const r = new Records();
    r.buildRun(build("debian-13-opam/arm64"), { state: "failed", task: "debian-13-opam:build-arm64", startedAt: T(1), at: T(2), message: "x", logTail: [] });
    r.buildRun(build("debian-13-ocaml-5.4/arm64"), { state: "skipped", task: "debian-13-ocaml-5.4:build-arm64", at: T(3), reason: "debian-13-opam:build-arm64 failed" });
    expect(healthOf(r, "debian-13-opam")).toBe("failed");
    expect(healthOf(r, "debian-13-ocaml-5.4")).toBe("failed");
  });

  it("counts every image by its distro's title and every compiler image by its version, all three states each", () => {
    const r = new Records();
    r.built(build("alpine-3.23-opam/amd64"), T(1), null);
    r.published(plan, "alpine-3.23-opam", T(2));
    const status = statusOf(r);
    const platforms = platformStates(status);
    const alpine = plan.images.filter((i) => i.distro === "alpine-3.23").length;
    expect(platforms.filter((c) => c.labels.platform === "Alpine 3.23")).toEqual([
      { labels: { platform: "Alpine 3.23", state: "ok" }, value: 1 },
      { labels: { platform: "Alpine 3.23", state: "failed" }, value: 0 },
      { labels: { platform: "Alpine 3.23", state: "active" }, value: alpine - 1 },
    ]);
    expect(new Set(platforms.map((c) => c.labels.platform))).toEqual(new Set(["Alpine 3.23", "Debian 13"]));
    const versions = new Set(versionStates(status).map((c) => c.labels.version));
    expect(versions).toEqual(new Set(plan.images.flatMap((i) => (i.compiler ? [i.compiler] : []))));
    expect(lastBuildTime(status)).toBe(Date.parse(T(1)) / 1000);
    expect(lastBuildTime(statusOf(new Records()))).toBeUndefined();
  });
});
