import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { IMAGES_LAYOUT, loadMatrix } from "../../matrix/src";
import { UPSTREAM_REPOSITORIES } from "../../tags/src";
import { DEFAULT_GRACE_DAYS, makePlan, printReference, referenceSections, type Plan } from ".";

const WORKSPACE = join(__dirname, "../../..");
const matrix = loadMatrix(WORKSPACE);
// The committed plan is today's, as `npm run plan:update` makes it (Alpine 3.23's grace period ended on 2026-11-07).
const plan: Plan = makePlan(matrix, { repositories: UPSTREAM_REPOSITORIES, pins: "commit", retirement: { now: new Date(), graceDays: DEFAULT_GRACE_DAYS } });
const byName = new Map(plan.images.map((i) => [i.name, i]));

describe("the committed plan", () => {
  it("is what the code and images/ produce now (regenerate with `npm run plan:update`)", () => {
    const committed = readFileSync(join(WORKSPACE, IMAGES_LAYOUT.buildsExpected), "utf8");
    expect(printReference(plan) === committed, "images/builds.expected is stale: run npm run plan:update").toBe(true);
  });
});

describe("makePlan", () => {
  it("reports every build exactly once, after the build it starts FROM", () => {
    const seen = new Set<string>();
    for (const section of referenceSections(plan)) {
      for (const step of section.steps) {
        if (!("build" in step)) continue;
        expect(seen.has(step.build.id)).toBe(false);
        if (step.build.parent) expect(seen.has(step.build.parent), step.build.id).toBe(true);
        seen.add(step.build.id);
      }
    }
    expect(seen.size).toBe(plan.images.flatMap((i) => i.builds).length);
  });

  it("builds each compiler FROM the opam image of its own distro and arch", () => {
    for (const image of plan.images.filter((i) => i.kind === "compiler")) {
      for (const build of image.builds) {
        const opam = byName.get(`${image.distro}-opam`);
        const parent = opam?.builds.find((b) => b.id === build.parent);
        expect(parent?.arch, build.id).toBe(build.arch);
        expect(build.dockerfile).toContain(`FROM ${parent?.stagingTag}\n`);
      }
    }
  });

  it("declares the held-out distros like every other and plans them through the same code", () => {
    for (const name of ["opensuse-16.0", "oraclelinux-10", "ubuntu-26.04"]) {
      expect(byName.get(`${name}-opam`)?.builds.length, name).toBeGreaterThan(0);
    }
    expect(byName.get("ubuntu-26.04-ocaml-5.4")?.manifests.map((m) => m.tag)).toEqual([
      "ocaml/opam:ubuntu-lts",
      "ocaml/opam:ubuntu",
      "ocaml/opam:ubuntu-26.04",
      "ocaml/opam:ubuntu-26.04-ocaml-5.4",
      "ocaml/opam:ubuntu-lts-ocaml-5.4",
      "ocaml/opam:ubuntu-ocaml-5.4",
    ]);
    expect(byName.get("ubuntu-26.04-opam")?.builds[0]?.dockerfile).toContain("coreutils-from-gnu");
  });

  it("gives tier-1 distros every variant and others none", () => {
    const variants = (distro: string) => plan.images.filter((i) => i.distro === distro && i.compiler?.includes("+")).length;
    expect(variants("debian-13")).toBeGreaterThan(0);
    expect(variants("alpine-3.24")).toBeGreaterThan(0);
    expect(variants("debian-12")).toBe(0);
  });

  it("builds the deprecated Alpine 3.23 nowhere (upstream's dump has no trace of it), and points alpine and alpine-ocaml-* at 3.24", () => {
    expect(matrix.distros.find((d) => d.name === "alpine-3.23")?.status).toEqual({ state: "deprecated", since: "2026-08-09" });
    expect(printReference(makePlan(matrix, { repositories: UPSTREAM_REPOSITORIES, pins: "branch" }))).not.toContain("alpine-3.23");
    expect(plan.images.filter((i) => i.distro === "alpine-3.23").map((i) => i.kind)).toEqual(["deprecated"]);
    const alpineTags = plan.images.flatMap((i) => i.manifests.map((m) => ({ tag: m.tag, image: i.name })));
    const bare = alpineTags.filter((t) => /^ocaml\/opam:alpine(-ocaml-|$)/.test(t.tag));
    expect(bare.length).toBeGreaterThan(0);
    expect(bare.every((t) => t.image.startsWith("alpine-3.24-"))).toBe(true);
  });

  it("plans a deprecated distro nowhere: no image, build or manifest", () => {
    const deprecated = {
      ...matrix,
      distros: matrix.distros.map((d) => (d.name === "debian-12" ? { ...d, status: { state: "deprecated" as const, since: "2026-08-09" } } : d)),
    };
    const without = makePlan(deprecated, { repositories: UPSTREAM_REPOSITORIES, pins: "commit" });
    expect(plan.images.some((i) => i.distro === "debian-12")).toBe(true);
    expect(without.images.filter((i) => i.distro === "debian-12")).toEqual([]);
    const tags = without.images.flatMap((i) => [...i.builds.map((b) => b.stagingTag), ...i.manifests.flatMap((m) => [m.tag, ...m.sources])]);
    expect(tags.filter((t) => t.includes("debian-12"))).toEqual([]);
    expect(printReference(without)).not.toContain("debian-12");
  });

  it("builds the archive from the default distro's amd64 opam image", () => {
    const archive = byName.get("archive");
    expect(archive?.builds.map((b) => b.parent)).toEqual(["debian-13-opam/amd64"]);
    expect(archive?.manifests).toEqual([{ name: "archive", tag: "ocaml/opam:archive", sources: ["ocurrent/opam-staging:archive"], builds: ["archive/amd64"] }]);
  });

  it("pins opam branches by commit, or by branch name in the reference style", () => {
    const commitPinned = byName.get("debian-13-opam")?.builds[0]?.dockerfile ?? "";
    expect(commitPinned).toContain(`git checkout ${matrix.opam.builds[0]?.commit}`);
    const branchPinned = makePlan(matrix, { repositories: UPSTREAM_REPOSITORIES, pins: "branch" });
    const opam = branchPinned.images.find((i) => i.name === "debian-13-opam")?.builds[0]?.dockerfile ?? "";
    expect(opam).toContain("git checkout 2.1 &&");
    expect(opam).not.toContain(matrix.opam.builds[0]?.commit ?? "?");
  });

  it("uses the configured repositories for every tag", () => {
    const local = makePlan(matrix, { repositories: { staging: "localhost:5000/staging", public: "localhost:5000/opam" }, pins: "commit" });
    const tags = local.images.flatMap((i) => [...i.builds.map((b) => b.stagingTag), ...i.manifests.map((m) => m.tag)]);
    expect(tags.every((t) => t.startsWith("localhost:5000/"))).toBe(true);
    expect(local.images.find((i) => i.name === "debian-13-ocaml-5.4")?.builds[0]?.dockerfile).toContain(
      "FROM localhost:5000/staging:debian-13-opam-",
    );
  });

  it("joins the Windows distros of a port under windows-all names, newest distro first", () => {
    const all = byName.get("windows-all-mingw-ocaml-5.4");
    expect(all?.manifests.map((m) => m.tag)).toEqual(["ocaml/opam:windows-all-mingw", "ocaml/opam:windows-all-mingw-ocaml-5.4"]);
    expect(all?.dependsOn).toEqual([
      "windows-server-mingw-ltsc2025-ocaml-5.4",
      "windows-server-mingw-ltsc2022-ocaml-5.4",
      "windows-mingw-ltsc2019-ocaml-5.4",
    ]);
    expect(byName.has("windows-msvc-ltsc2019-ocaml-5.2")).toBe(false);
  });
});

describe("a site that builds a subset", () => {
  const site = makePlan(matrix, {
    repositories: UPSTREAM_REPOSITORIES,
    pins: "commit",
    site: { os: ["linux"], arches: ["amd64", "arm64"] },
    retirement: { now: new Date(), graceDays: DEFAULT_GRACE_DAYS },
  });
  const builds = site.images.flatMap((i) => i.builds);

  it("plans only its OSes and arches: no Windows image, no other arch", () => {
    expect(new Set(builds.map((b) => `${b.os}/${b.arch}`))).toEqual(new Set(["linux/amd64", "linux/arm64"]));
    expect(site.images.filter((i) => i.kind === "windows-all" || i.distro.startsWith("windows"))).toEqual([]);
    expect(site.windowsGroups).toEqual([]);
    // Every full-plan image with a build on those arches is there, with exactly those builds.
    const full = plan.images.filter((i) => i.builds.some((b) => b.os === "linux" && ["amd64", "arm64"].includes(b.arch)));
    expect(site.images.map((i) => i.name)).toEqual(full.map((i) => i.name));
  });

  it("lists only the arches built in each manifest, so a tag pulled on another arch is not there", () => {
    const debian = site.images.find((i) => i.name === "debian-13-ocaml-5.4");
    expect(debian?.manifests.map((m) => m.builds)).toEqual(debian?.manifests.map(() => ["debian-13-ocaml-5.4/arm64", "debian-13-ocaml-5.4/amd64"]));
    for (const image of site.images) for (const m of image.manifests) for (const id of m.builds) expect(builds.some((b) => b.id === id), `${m.tag}: ${id}`).toBe(true);
  });

  it("has no archive when it does not build the default distro's amd64", () => {
    const arm = makePlan(matrix, { repositories: UPSTREAM_REPOSITORIES, pins: "commit", site: { os: ["linux"], arches: ["arm64"] } });
    expect(arm.images.some((i) => i.kind === "archive")).toBe(false);
    expect(arm.images.flatMap((i) => i.builds).every((b) => b.arch === "arm64")).toBe(true);
  });
});

describe("retiring a deprecated distro", () => {
  const planOn = (day: string, graceDays = DEFAULT_GRACE_DAYS) =>
    makePlan(matrix, { repositories: UPSTREAM_REPOSITORIES, pins: "commit", retirement: { now: new Date(`${day}T00:00:00Z`), graceDays } });
  // Alpine 3.23 as the plan made it while it was active (ocaml-dockerfile 8.4.2 deprecated it on 2026-08-09).
  const active = makePlan(
    { ...matrix, distros: matrix.distros.map((d) => (d.name === "alpine-3.23" ? { ...d, status: { state: "active" as const } } : d.name === "alpine-3.24" ? { ...d, aliases: [] } : d)) },
    { repositories: UPSTREAM_REPOSITORIES, pins: "commit" },
  );
  const formerTags = active.images.filter((i) => i.distro === "alpine-3.23").flatMap((i) => i.manifests.map((m) => ({ tag: m.tag, arches: m.builds.map((b) => b.split("/")[1]) })));

  it("leaves its tags alone during the grace period", () => {
    expect(planOn("2026-11-06").images.filter((i) => i.distro === "alpine-3.23")).toEqual([]);
    expect(planOn("2026-12-04", 120).images.filter((i) => i.distro === "alpine-3.23")).toEqual([]);
  });

  it("then pushes every tag it had (opam, compilers, variants, its bare name) as the deprecation image, on each arch that tag had", () => {
    const retired = planOn("2026-11-07").images.filter((i) => i.distro === "alpine-3.23");
    expect(retired.map((i) => [i.name, i.kind])).toEqual([["alpine-3.23-deprecated", "deprecated"]]);
    const image = retired[0];
    expect(image?.builds.map((b) => b.id)).toEqual(["alpine-3.23-deprecated/arm64", "alpine-3.23-deprecated/amd64"]);
    expect(formerTags.map((t) => t.tag)).toEqual(expect.arrayContaining(["ocaml/opam:alpine-3.23-opam", "ocaml/opam:alpine-3.23", "ocaml/opam:alpine-3.23-ocaml-5.4", "ocaml/opam:alpine-3.23-ocaml-4.14-flambda"]));
    expect(image?.manifests.map((m) => ({ tag: m.tag, arches: m.builds.map((b) => b.split("/")[1]) }))).toEqual(formerTags);
    expect(image?.manifests.every((m) => m.sources.every((s) => s.startsWith("ocurrent/opam-staging:alpine-3.23-deprecated-")))).toBe(true);
  });

  it("builds the deprecation image FROM the newest active Alpine's pinned base, printing upstream's message and exiting 1", () => {
    const image = planOn("2026-11-07").images.find((i) => i.name === "alpine-3.23-deprecated");
    const alpine = matrix.distros.find((d) => d.name === "alpine-3.24");
    expect(image?.retired).toEqual({ since: "2026-08-09", baseDistro: "alpine-3.24" });
    expect(image?.builds[0]?.base).toEqual(alpine?.base);
    const text = image?.builds[0]?.dockerfile ?? "";
    expect(text).toContain(`FROM ${alpine?.base.image}:${alpine?.base.tag}\n`);
    expect(text).toContain("This container is now deprecated and no longer supported. Please see https://github.com/ocaml/infrastructure/wiki/Containers");
    expect(text).toMatch(/ENTRYPOINT \[ "\/bin\/sh", "-c", "echo '[^']+'; exit 1" \]/);
  });
});
