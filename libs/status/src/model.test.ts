import { describe, expect, it } from "vitest";
import type { Build } from "../../plan/src";
import { fakeBuildId, planOf, Records, REPOSITORIES } from "../../../tools/testing/status";
import { makeStatus, statusSchema, type BuildState } from ".";

const { plan, distros } = planOf();
const builds = new Map(plan.images.flatMap((i) => i.builds.map((b) => [b.id, b] as const)));
const build = (id: string): Build => {
  const b = builds.get(id);
  if (!b) throw new Error(`no build ${id} in ${[...builds.keys()].join(", ")}`);
  return b;
};
const T = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

function statusWith(records: Records) {
  const status = makeStatus({ plan, repositories: REPOSITORIES, distros, records: records.map, buildIdOf: fakeBuildId, generatedAt: T(99) });
  const stateOf = (id: string): BuildState => {
    const [image, arch] = id.split("/");
    const found = status.images.find((i) => i.name === image)?.builds.find((b) => b.arch === arch);
    if (!found) throw new Error(`no ${id} in the status`);
    return found.status;
  };
  return { status, stateOf };
}

describe("makeStatus", () => {
  it("calls every build of the plan not built when dist/ is empty, and the document validates", () => {
    const { status } = statusWith(new Records());
    expect(statusSchema.parse(status)).toEqual(status);
    expect(status.counts.builds["not-built"]).toBe(builds.size);
    expect(status.images.map((i) => i.name)).toEqual(plan.images.map((i) => i.name));
    expect(status.distros.map((d) => d.title)).toEqual(["Alpine 3.23", "Debian 13"]);
  });

  it("tells built, reused, published and stale apart by the records and the build ids", () => {
    const r = new Records();
    const opamAmd = r.built(build("debian-13-opam/amd64"), T(1), null);
    r.built(build("debian-13-opam/arm64"), T(1), null, { reused: true });
    r.built(build("debian-13-ocaml-5.4/amd64"), T(2), opamAmd.digest);
    // Built FROM an opam image that has been rebuilt since: its id no longer matches.
    r.built(build("debian-13-ocaml-5.4/arm64"), T(2), "sha256:an-older-parent");
    r.built(build("alpine-3.23-opam/amd64"), T(3), null);
    r.published(plan, "alpine-3.23-opam", T(4));
    const { status, stateOf } = statusWith(r);
    expect(stateOf("debian-13-opam/amd64").state).toBe("built");
    expect(stateOf("debian-13-opam/arm64").state).toBe("reused");
    expect(stateOf("debian-13-ocaml-5.4/amd64").state).toBe("built");
    expect(stateOf("debian-13-ocaml-5.4/arm64").state).toBe("stale");
    const published = stateOf("alpine-3.23-opam/amd64");
    expect(published.state === "published" && published.tags).toEqual(["reg.test/opam:alpine-3.23-opam"]);
    expect(status.tags.map((t) => [t.tag, t.arches.map((a) => a.arch)])).toEqual([["reg.test/opam:alpine-3.23-opam", ["amd64"]]]);
    expect(status.staging).toHaveLength(5);
    expect(status.staging.filter((s) => !s.current).map((s) => `${s.image}/${s.arch}`)).toEqual(["debian-13-ocaml-5.4/arm64"]);
    expect(statusSchema.safeParse(status).success).toBe(true);
  });

  it("shows a run in progress over an older record, and a failure until a matching build exists", () => {
    const r = new Records();
    const opam = build("debian-13-opam/amd64");
    r.built(opam, T(1), null);
    r.buildRun(opam, { state: "running", task: "debian-13-opam:build-amd64", at: T(5) });
    const queued = build("debian-13-ocaml-5.4/amd64");
    r.buildRun(queued, { state: "queued", task: "debian-13-ocaml-5.4:build-amd64", at: T(5) });
    const failing = build("debian-13-opam/arm64");
    r.buildRun(failing, { state: "failed", task: "debian-13-opam:build-arm64", startedAt: T(5), at: T(6), message: "build of debian-13-opam for arm64 failed: exit 1", logTail: ["#5 ERROR: exec: \"/bin/sh\": not found"] });
    const skipped = build("debian-13-ocaml-5.4/arm64");
    r.buildRun(skipped, { state: "skipped", task: "debian-13-ocaml-5.4:build-arm64", at: T(6), reason: "debian-13-opam:build-arm64 failed" });
    const { stateOf, status } = statusWith(r);
    expect(stateOf(opam.id)).toMatchObject({ state: "building", since: T(5), previous: { builtAt: T(1) } });
    expect(stateOf(queued.id)).toMatchObject({ state: "queued", previous: null });
    const failed = stateOf(failing.id);
    expect(failed.state === "failed" && failed.failure.logTail).toEqual(["#5 ERROR: exec: \"/bin/sh\": not found"]);
    expect(status.images.find((i) => i.name === "debian-13-opam")?.builds.find((b) => b.arch === "arm64")?.rerun).toBe("npx nx run debian-13-opam:build-arm64");
    expect(stateOf(skipped.id)).toEqual({ state: "not-built", note: "debian-13-opam:build-arm64 failed" });

    // The build finishes: its record is newer than the run record.
    r.built(opam, T(7), null);
    r.built(failing, T(8), null);
    const after = statusWith(r).stateOf;
    expect(after(opam.id).state).toBe("built");
    expect(after(failing.id).state).toBe("built");
  });

  it("keeps a build whose record matches its inputs over an older failure", () => {
    const r = new Records();
    const b = build("alpine-3.23-opam/amd64");
    r.buildRun(b, { state: "failed", task: "alpine-3.23-opam:build-amd64", startedAt: T(5), at: T(6), message: "registry down", logTail: [] });
    r.built(b, T(2), null);
    expect(statusWith(r).stateOf(b.id).state).toBe("built");
    r.built(b, T(2), null, { buildId: "something-else" });
    expect(statusWith(r).stateOf(b.id).state).toBe("failed");
  });

  it("calls a publish stale when the builds it lists were rebuilt, and names its tags with per-arch digests", () => {
    const r = new Records();
    const amd = build("debian-13-opam/amd64");
    const arm = build("debian-13-opam/arm64");
    r.built(amd, T(1), null);
    r.built(arm, T(1), null);
    r.published(plan, "debian-13-opam", T(2));
    let image = statusWith(r).status.images.find((i) => i.name === "debian-13-opam");
    expect(image?.publish.status.state).toBe("published");
    expect(image?.builds.map((b) => b.status.state)).toEqual(["published", "published"]);
    const tag = statusWith(r).status.tags[0];
    expect(tag?.arches.map((a) => a.arch).sort()).toEqual(["amd64", "arm64"]);
    expect(tag?.digest).toMatch(/^sha256:/);
    r.built(arm, T(3), null);
    image = statusWith(r).status.images.find((i) => i.name === "debian-13-opam");
    expect(image?.publish.status.state).toBe("stale");
    expect(image?.builds.map((b) => b.status.state)).toEqual(["built", "built"]);
    expect(statusWith(r).status.tags[0]?.current).toBe(false);
  });

  it("shows a dry run's records as would build / would publish, never as built, and never over a real record", () => {
    const r = new Records();
    const opam = r.dryBuilt(build("debian-13-opam/amd64"), T(1), null);
    r.dryBuilt(build("debian-13-ocaml-5.4/amd64"), T(2), opam.buildId);
    r.dryPublished(plan, "debian-13-ocaml-5.4", T(3));
    // A real build and publish of alpine, and a dry run after it.
    const alpine = r.built(build("alpine-3.23-opam/amd64"), T(4), null);
    r.published(plan, "alpine-3.23-opam", T(5));
    r.dryBuilt(build("alpine-3.23-opam/amd64"), T(6), null);
    r.dryPublished(plan, "alpine-3.23-opam", T(7));
    const { status, stateOf } = statusWith(r);
    expect(statusSchema.parse(status)).toEqual(status);
    expect(stateOf("debian-13-opam/amd64")).toEqual({ state: "would-build", buildId: opam.buildId, stagingTag: opam.stagingTag, plannedAt: T(1) });
    expect(stateOf("debian-13-ocaml-5.4/amd64").state).toBe("would-build");
    expect(stateOf("alpine-3.23-opam/amd64")).toMatchObject({ state: "published", build: { digest: alpine.digest } });
    const publishOf = (name: string) => status.images.find((i) => i.name === name)?.publish.status.state;
    expect(publishOf("debian-13-ocaml-5.4")).toBe("would-publish");
    expect(publishOf("alpine-3.23-opam")).toBe("published");
    expect(status.counts.builds["would-build"]).toBe(2);
    expect(status.staging.map((s) => s.image)).toEqual(["alpine-3.23-opam"]);
  });

  it("a dry record whose inputs moved since is not a plan any more: not built", () => {
    const r = new Records();
    r.dryBuilt(build("debian-13-opam/amd64"), T(1), null);
    const child = r.dryBuilt(build("debian-13-ocaml-5.4/amd64"), T(2), "0".repeat(64));
    const { stateOf } = statusWith(r);
    expect(child.buildId).not.toBe("");
    expect(stateOf("debian-13-ocaml-5.4/amd64")).toEqual({ state: "not-built", note: null });
  });

  it("counts records only for the repositories they were made for", () => {
    const r = new Records();
    const opam = r.built(build("alpine-3.23-opam/amd64"), T(1), null);
    r.published(plan, "alpine-3.23-opam", T(2), "elsewhere.test/opam");
    r.built(build("debian-13-opam/amd64"), T(3), null, { stagingRepo: "elsewhere.test/opam-staging" });
    const { status, stateOf } = statusWith(r);
    // Built for this staging repository, but its tags went to another public one.
    expect(stateOf("alpine-3.23-opam/amd64")).toMatchObject({ state: "built", build: { digest: opam.digest } });
    expect(status.images.find((i) => i.name === "alpine-3.23-opam")?.publish.status).toEqual({
      state: "not-published",
      note: "its record is of tags in elsewhere.test/opam, not reg.test/opam",
    });
    expect(status.tags).toEqual([]);
    expect(stateOf("debian-13-opam/amd64")).toEqual({ state: "not-built", note: "its record is of a build for elsewhere.test/opam-staging, not reg.test/opam-staging" });
    expect(status.staging.map((s) => s.image)).toEqual(["alpine-3.23-opam"]);
  });
});
