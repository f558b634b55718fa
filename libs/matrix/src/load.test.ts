import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { closest, loadMatrix, loadUpstream, MatrixError } from ".";
import { FAMILIES } from "../../distros/src";
import { isDockerTag } from "../../docker/src/reference";
import { ARCHES } from "../../ocaml/src";
import { makePlan } from "../../plan/src";

const WORKSPACE = join(__dirname, "../../..");

/** A copy of images/ to break one field at a time. */
let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "obi-matrix-"));
  cpSync(join(WORKSPACE, "images"), join(root, "images"), { recursive: true });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function edit(file: string, change: (json: Record<string, unknown>) => void): void {
  const path = join(root, file);
  const json = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  change(json);
  writeFileSync(path, JSON.stringify(json, null, 2));
}

function problems(): string[] {
  try {
    loadMatrix(root);
  } catch (e) {
    if (e instanceof MatrixError) return [...e.problems];
    throw e;
  }
  return [];
}

describe("loadMatrix", () => {
  it("accepts the committed matrix", () => {
    const matrix = loadMatrix(WORKSPACE);
    expect(matrix.distros.map((d) => d.name)).toContain("debian-13");
    expect(matrix.distros.filter((d) => d.isDefault).map((d) => d.name)).toEqual(["debian-13"]);
  });

  it("names the file and field of an unknown family", () => {
    edit("images/debian-12/image.json", (j) => (j.family = "gentoo"));
    expect(problems()).toEqual([expect.stringMatching(/^images\/debian-12\/image\.json: family: "gentoo" is not a family; known: .*alpine/)]);
  });

  it("names the file and field of a bad arch", () => {
    edit("images/fedora-42/image.json", (j) => (j.arches = { amd64: "", sparc64: "" }));
    const found = problems();
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^images\/fedora-42\/image\.json: arches(\.sparc64)?: /);
    expect(found[0]).toContain("sparc64");
  });

  it("names the file and field of a bad version", () => {
    edit("images/compilers.json", (j) => ((j.releases as string[])[1] = "4.14.x"));
    expect(problems()).toEqual(['images/compilers.json: releases.1: "4.14.x" is not an OCaml version (MAJOR.MINOR[.PATCH][~PRERELEASE][+VARIANT])']);
  });

  it("names the file and field of a bad version range", () => {
    edit("images/alpine-3.23/image.json", (j) => (j.arches = { amd64: ">=five" }));
    expect(problems()).toEqual([expect.stringMatching(/^images\/alpine-3\.23\/image\.json: arches\.amd64: ">=five" is not a version range/)]);
  });

  it("names the file and field that is missing", () => {
    edit("images/archlinux/image.json", (j) => delete j.base);
    expect(problems()).toEqual([expect.stringMatching(/^images\/archlinux\/image\.json: base: /)]);
    edit("images/archlinux/image.json", (j) => (j.base = { image: "archlinux" }));
    expect(problems()).toEqual([expect.stringMatching(/^images\/archlinux\/image\.json: base\.tag: /)]);
  });

  it("requires the rpm facts exactly for rpm-based families", () => {
    edit("images/centos-9/image.json", (j) => delete j.rpm);
    edit("images/debian-12/image.json", (j) => (j.rpm = { groupCommand: "groupinstall", devToolsGroup: "x" }));
    expect(problems()).toEqual([
      "images/centos-9/image.json: rpm: required for rpm-based families",
      "images/debian-12/image.json: rpm: only for rpm-based families",
    ]);
  });

  it("requires the Windows facts for Windows families and gnuCoreutils only on apt", () => {
    edit("images/windows-mingw-ltsc2019/image.json", (j) => delete j.windows);
    edit("images/fedora-44/image.json", (j) => ((j.windows = { port: "mingw" }), (j.gnuCoreutils = true)));
    expect(problems()).toEqual([
      "images/fedora-44/image.json: windows: only for Windows families",
      "images/fedora-44/image.json: gnuCoreutils: only for apt-based families",
      "images/windows-mingw-ltsc2019/image.json: windows: required for Windows families",
    ]);
  });

  it("builds each distro as the variant of its package manager", () => {
    const byName = new Map(loadMatrix(WORKSPACE).distros.map((d) => [d.name, d]));
    const centos = byName.get("centos-9");
    expect(centos?.packageManager === "rpm" && centos.rpm.extraRepo).toBe("crb");
    const windows = byName.get("windows-server-msvc-ltsc2022");
    expect(windows?.os === "windows" && windows.windows.port).toBe("msvc");
    expect(byName.get("opensuse-tumbleweed")).toMatchObject({ os: "linux", packageManager: "zypper" });
  });

  it("keeps a deprecated distro, but no alias or default may lead to it", () => {
    edit("images/fedora-44/image.json", (j) => ((j.status = "deprecated"), (j.deprecatedOn = "2026-08-09")));
    edit("images/debian-13/image.json", (j) => ((j.status = "deprecated"), (j.deprecatedOn = "2026-08-09")));
    expect(problems()).toEqual([
      'images/debian-13/image.json: aliases: a deprecated distro has no aliases; move "debian" to the distro that replaces it',
      "images/debian-13/image.json: default: a deprecated distro cannot be the default",
      'images/fedora-44/image.json: aliases: a deprecated distro has no aliases; move "fedora" to the distro that replaces it',
    ]);
    edit("images/fedora-44/image.json", (j) => ((j.aliases = []), (j.status = "retired"), delete j.deprecatedOn));
    expect(problems()).toContainEqual(expect.stringMatching(/^images\/fedora-44\/image\.json: status: .*"deprecated"/));
  });

  it("needs the day a deprecated distro was deprecated, and only then", () => {
    edit("images/fedora-42/image.json", (j) => (j.status = "deprecated"));
    edit("images/fedora-43/image.json", (j) => (j.deprecatedOn = "2026-08-09"));
    edit("images/alpine-3.23/image.json", (j) => (j.deprecatedOn = "2026-02-30"));
    expect(problems()).toEqual([
      'images/alpine-3.23/image.json: deprecatedOn: "2026-02-30" is not a day (YYYY-MM-DD)',
      "images/fedora-42/image.json: deprecatedOn: required for a deprecated distro: the day it was deprecated (YYYY-MM-DD)",
      'images/fedora-43/image.json: deprecatedOn: only for a deprecated distro ("status": "deprecated"); got "2026-08-09"',
    ]);
  });

  it("reads which upstream releases images/ follows, and names a bad field", () => {
    expect(loadUpstream(WORKSPACE)["ocaml-dockerfile"].url).toBe("https://github.com/ocurrent/ocaml-dockerfile");
    edit("images/upstream.json", (j) => ((j["ocaml-dockerfile"] as Record<string, unknown>).commit = "8.4.2"));
    expect(() => loadUpstream(root)).toThrow(
      'images/upstream.json: ocaml-dockerfile.commit: "8.4.2" is not a full 40-character git commit id',
    );
  });

  it("rejects unknown fields, malformed pins and JSON syntax errors", () => {
    edit("images/opam.json", (j) => ((j.builds as { commit: string }[])[0]!.commit = "2.1"));
    edit("images/ubuntu-24.04/image.json", (j) => (j.tierr = 2));
    writeFileSync(join(root, "images/opam-repository.json"), "{ nope");
    const found = problems();
    expect(found).toContain('images/opam.json: builds.0.commit: "2.1" is not a full 40-character git commit id');
    expect(found).toContain('images/ubuntu-24.04/image.json: (top level): unknown field "tierr"; did you mean "tier"?');
    expect(found).toContainEqual(expect.stringMatching(/^images\/opam-repository\.json:1:3: not valid JSON: /));
  });

  it("refuses two default distros and a name claimed twice", () => {
    edit("images/debian-12/image.json", (j) => (j.default = true));
    expect(problems()).toEqual([expect.stringMatching(/default: exactly one distro must be the default, found 2$/)]);
    edit("images/debian-12/image.json", (j) => ((j.default = false), (j.aliases = ["debian"])));
    expect(problems()).toEqual(['images/debian-13/image.json: aliases: "debian" is already a name of images/debian-12/image.json']);
  });

  it("quotes an unknown arch and lists the known ones", () => {
    edit("images/fedora-42/image.json", (j) => (j.arches = { amd64: "", aarch64: "" }));
    expect(problems()).toEqual([`images/fedora-42/image.json: arches: unknown arch "aarch64"; known: ${ARCHES.join(", ")}`]);
  });

  it("suggests the family a misspelt one is near, and lists them all when none is", () => {
    edit("images/alpine-3.23/image.json", (j) => (j.family = "alpnie"));
    edit("images/debian-12/image.json", (j) => (j.family = "gentoo"));
    expect(problems()).toEqual([
      'images/alpine-3.23/image.json: family: "alpnie" is not a family; did you mean "alpine"?',
      `images/debian-12/image.json: family: "gentoo" is not a family; known: ${FAMILIES.join(", ")}`,
    ]);
  });

  it("quotes a value of the wrong type and lists the choices of a closed set", () => {
    edit("images/archlinux/image.json", (j) => ((j.tier = 4), (j.version = 2026)));
    expect(problems()).toEqual([
      "images/archlinux/image.json: version: expected string, got 2026",
      "images/archlinux/image.json: tier: 4 is not one of: 1, 2, 3",
    ]);
  });

  it("gives the line and column of a JSON syntax error, with every other problem", () => {
    writeFileSync(join(root, "images/debian-13/image.json"), '{\n  "family": "debian",\n  "version": "13"\n  "title": "x"\n}\n');
    edit("images/compilers.json", (j) => (j.releases = ["5.4.x"]));
    expect(problems()).toEqual([
      'images/compilers.json: releases.0: "5.4.x" is not an OCaml version (MAJOR.MINOR[.PATCH][~PRERELEASE][+VARIANT])',
      // The parser stops at the token after the missing comma: line 4, column 3.
      "images/debian-13/image.json:4:3: not valid JSON: Expected ',' or '}' after property value",
    ]);
  });
});

describe("loadMatrix refuses bad input found by probing (issue 12)", () => {
  const write = (file: string, text: string) => {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  };
  /** A copy of a distro's folder under another name, with edits. */
  const copyDistro = (from: string, to: string, change: (json: Record<string, unknown>) => void = () => {}) => {
    cpSync(join(root, "images", from), join(root, "images", to), { recursive: true });
    edit(`images/${to}/image.json`, change);
  };

  it("refuses a second folder declaring the same family and version, naming both files", () => {
    copyDistro("debian-12", "debian-12-again");
    expect(problems()).toEqual([
      'images/debian-12-again/image.json: version: "12" of family "debian" is already declared by images/debian-12/image.json',
    ]);
  });

  it("refuses unknown files and folders under images/ by name, with a guess for a slip", () => {
    mkdirSync(join(root, "images/x"));
    cpSync(join(root, "images/debian-12/image.json"), join(root, "images/x/image.jsn"));
    write("images/compiler.json", "{}");
    write("images/debian-13/notes.md", "notes");
    write("images/debian-13/old/image.json", "{}");
    expect(problems()).toEqual([
      'images/compiler.json: unknown file; did you mean "compilers.json"?',
      "images/debian-13/notes.md: unknown file; a distro folder holds image.json only",
      "images/debian-13/old: unknown folder; a distro folder holds image.json only",
      "images/x: a distro folder without image.json",
      'images/x/image.jsn: unknown file; did you mean "image.json"?',
    ]);
  });

  it("knows the generated and tool-owned files, and leaves hidden files (editor swap files) alone", () => {
    write("images/debian-13/.image.json.swp", "swap");
    write("images/.DS_Store", "");
    expect(problems()).toEqual([]);
    write("images/schema/stray.txt", "");
    expect(problems()).toEqual(["images/schema/stray.txt: unknown file; the folder holds the generated <kind>.schema.json files only"]);
  });

  it("checks every name that becomes part of a tag", () => {
    copyDistro("debian-13", "Debian 14", (j) => ((j.version = "14"), (j.aliases = []), (j.default = false)));
    edit("images/alpine-3.24/image.json", (j) => (j.aliases = ["Alpine", "a".repeat(41)]));
    edit("images/fedora-44/image.json", (j) => (j.base = { image: "Fedora", tag: "44 slim" }));
    edit("images/opam.json", (j) => ((j.builds as { branch: string }[])[2]!.branch = "release 2.3"));
    expect(problems()).toEqual([
      `images/opam.json: builds.2.branch: "release 2.3" is not a branch that makes a valid binary name opam-<branch> (lowercase letters, digits, . _ -, at most 40 characters)`,
      `images/Debian 14/image.json: (folder name): "Debian 14" is not a valid name (lowercase letters, digits, . _ -, at most 40 characters)`,
      `images/alpine-3.24/image.json: aliases.0: "Alpine" is not a valid name (lowercase letters, digits, . _ -, at most 40 characters)`,
      `images/alpine-3.24/image.json: aliases.1: "${"a".repeat(41)}" is not a valid name (lowercase letters, digits, . _ -, at most 40 characters)`,
      `images/fedora-44/image.json: base.image: "Fedora" is not an image repository ([registry[:port]/]path in lowercase, without tag or digest, e.g. ocaml/opam or localhost:5000/opam)`,
      `images/fedora-44/image.json: base.tag: "44 slim" is not a Docker tag ([A-Za-z0-9_][A-Za-z0-9_.-], at most 128 characters)`,
    ]);
  });

  it("refuses names that would collide with a name the plan makes", () => {
    // Each was accepted, and two manifests then pushed the same public tag.
    edit("images/alpine-3.24/image.json", (j) => (j.aliases = ["archive", "latest", "windows-all-mingw", "debian-13-ocaml-5.4", "debian-13-opam"]));
    const taken = "is a name the plan gives its own images";
    const shaped = "is shaped like an image name (…-opam, …-ocaml-…), which could be another distro's";
    expect(problems()).toEqual([
      `images/alpine-3.24/image.json: aliases.0: "archive" ${taken}`,
      `images/alpine-3.24/image.json: aliases.1: "latest" ${taken}`,
      `images/alpine-3.24/image.json: aliases.2: "windows-all-mingw" ${taken}`,
      `images/alpine-3.24/image.json: aliases.3: "debian-13-ocaml-5.4" ${shaped}`,
      `images/alpine-3.24/image.json: aliases.4: "debian-13-opam" ${shaped}`,
    ]);
  });

  it("makes valid Docker tags from names of the longest allowed length", () => {
    const longest = "d".repeat(40);
    cpSync(join(root, "images/debian-13"), join(root, `images/${longest}`), { recursive: true });
    rmSync(join(root, "images/debian-13"), { recursive: true });
    edit(`images/${longest}/image.json`, (j) => (j.aliases = ["a".repeat(40)]));
    const plan = makePlan(loadMatrix(root), { repositories: { staging: "s", public: "p" }, pins: "commit" });
    // The name part of every staging and public tag (`s:<name>`, `p:<name>`).
    const names = plan.images.flatMap((i) => [...i.builds.map((b) => b.stagingTag), ...i.manifests.map((m) => m.tag)]).map((t) => t.slice(2));
    expect(names.filter((n) => n.startsWith(longest)).length).toBeGreaterThan(0);
    expect(names.filter((n) => !isDockerTag(n))).toEqual([]);
  });

  it("refuses a file over the size limit before parsing it, and lists over their limits", () => {
    const aliases = Array.from({ length: 500_000 }, (_, i) => `a${i}`);
    copyDistro("debian-12", "huge", (j) => ((j.version = "huge"), (j.aliases = aliases)));
    edit("images/alpine-3.24/image.json", (j) => (j.aliases = Array.from({ length: 17 }, (_, i) => `alpine-${i}`)));
    expect(problems()).toEqual([
      "images/alpine-3.24/image.json: aliases: 17 items, more than the 16 allowed",
      expect.stringMatching(/^images\/huge\/image\.json: \(top level\): \d+(\.\d)? MiB, more than the 1 MiB an images\/ file may have$/),
    ]);
  });

  it("lists at most 20 problems of one file, then counts the rest", () => {
    edit("images/debian-12/image.json", (j) => {
      j.aliases = Array.from({ length: 16 }, (_, i) => `Debian-${i}`);
      Object.assign(j, { version: 12, title: 5, tier: 9, gcc: "x", bubblewrap: "x", base: { image: "debian", tag: "a b" } });
    });
    const found = problems();
    expect(found).toHaveLength(21);
    expect(found.slice(0, 20).every((line) => line.startsWith("images/debian-12/image.json: "))).toBe(true);
    // 16 bad names and 6 other fields.
    expect(found[20]).toBe("images/debian-12/image.json: … and 2 more problems");
  });

  it("reports every problem of every file at once, cross-file checks too", () => {
    edit("images/debian-12/image.json", (j) => ((j.default = true), (j.tier = 9)));
    edit("images/alpine-3.23/image.json", (j) => (j.family = "alpnie"));
    copyDistro("fedora-44", "fedora-44-again", (j) => ((j.aliases = []), (j.gcc = "fifteen")));
    writeFileSync(join(root, "images/archlinux/image.json"), "{ nope");
    expect(problems()).toEqual([
      'images/alpine-3.23/image.json: family: "alpnie" is not a family; did you mean "alpine"?',
      expect.stringMatching(/^images\/archlinux\/image\.json:1:3: not valid JSON: /),
      "images/debian-12/image.json: tier: 9 is not one of: 1, 2, 3",
      'images/fedora-44-again/image.json: gcc: "fifteen" is not MAJOR.MINOR',
      'images/fedora-44-again/image.json: version: "44" of family "fedora" is already declared by images/fedora-44/image.json',
      "images/debian-12/image.json, images/debian-13/image.json: default: exactly one distro must be the default, found 2",
    ]);
  });
});

describe("closest", () => {
  it("finds a slip of a letter or two, and nothing for another word", () => {
    expect(closest("alpnie", FAMILIES)).toBe("alpine");
    expect(closest("amd46", ARCHES)).toBe("amd64");
    expect(closest("fedra", FAMILIES)).toBe("fedora");
    expect(closest("gentoo", FAMILIES)).toBeUndefined();
    expect(closest("x", ["y"])).toBeUndefined();
  });
});
