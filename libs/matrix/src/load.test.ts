import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadMatrix, loadUpstream, MatrixError } from ".";

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
    expect(problems()).toEqual([expect.stringMatching(/^images\/debian-12\/image\.json: family: .*"alpine"/)]);
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
    expect(problems()).toEqual(["images/compilers.json: releases.1: not an OCaml version (MAJOR.MINOR[.PATCH][~PRERELEASE][+VARIANT])"]);
  });

  it("names the file and field of a bad version range", () => {
    edit("images/alpine-3.23/image.json", (j) => (j.arches = { amd64: ">=five" }));
    expect(problems()).toEqual([expect.stringMatching(/^images\/alpine-3\.23\/image\.json: arches\.amd64: not a version range/)]);
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
    edit("images/fedora-44/image.json", (j) => (j.status = "deprecated"));
    edit("images/debian-13/image.json", (j) => (j.status = "deprecated"));
    expect(problems()).toEqual([
      'images/debian-13/image.json: aliases: a deprecated distro has no aliases; move "debian" to the distro that replaces it',
      "images/debian-13/image.json: default: a deprecated distro cannot be the default",
      'images/fedora-44/image.json: aliases: a deprecated distro has no aliases; move "fedora" to the distro that replaces it',
    ]);
    edit("images/fedora-44/image.json", (j) => ((j.aliases = []), (j.status = "retired")));
    expect(problems()).toContainEqual(expect.stringMatching(/^images\/fedora-44\/image\.json: status: .*"deprecated"/));
  });

  it("reads which upstream releases images/ follows, and names a bad field", () => {
    expect(loadUpstream(WORKSPACE)["ocaml-dockerfile"].url).toBe("https://github.com/ocurrent/ocaml-dockerfile");
    edit("images/upstream.json", (j) => ((j["ocaml-dockerfile"] as Record<string, unknown>).commit = "8.4.2"));
    expect(() => loadUpstream(root)).toThrow(
      "images/upstream.json: ocaml-dockerfile.commit: not a full 40-character git commit id",
    );
  });

  it("rejects unknown fields, malformed pins and JSON syntax errors", () => {
    edit("images/opam.json", (j) => ((j.builds as { commit: string }[])[0]!.commit = "2.1"));
    edit("images/ubuntu-24.04/image.json", (j) => (j.tierr = 2));
    writeFileSync(join(root, "images/opam-repository.json"), "{ nope");
    const found = problems();
    expect(found).toContain("images/opam.json: builds.0.commit: not a full 40-character git commit id");
    expect(found).toContainEqual(expect.stringMatching(/^images\/ubuntu-24\.04\/image\.json: \(top level\): .*tierr/));
    expect(found).toContainEqual(expect.stringMatching(/^images\/opam-repository\.json: \(top level\): not valid JSON/));
  });

  it("refuses two default distros and a name claimed twice", () => {
    edit("images/debian-12/image.json", (j) => (j.default = true));
    expect(problems()).toEqual([expect.stringMatching(/default: exactly one distro must be the default, found 2$/)]);
    edit("images/debian-12/image.json", (j) => ((j.default = false), (j.aliases = ["debian"])));
    expect(problems()).toEqual(['images/debian-13/image.json: aliases: "debian" is already a name of images/debian-12/image.json']);
  });
});
