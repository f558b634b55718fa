/**
 * The recipes of libs/distros against small distros written here, not the
 * real images/: a recipe change can be tested without touching the matrix.
 */
import { describe, expect, it } from "vitest";
import { printDockerfile } from "../../dockerfile/src";
import { parseRange, parseVersion, type Releases } from "../../ocaml/src";
import {
  compilerImage,
  linuxOpamImage,
  windowsOpamImage,
  type ApkDistro,
  type AptDistro,
  type DistroBase,
  type LinuxDistro,
  type OpamBuild,
  type OpamSources,
  type PacmanDistro,
  type RpmDistro,
  type WindowsDistro,
  type ZypperDistro,
} from ".";

const common = (name: string): DistroBase => ({
  name,
  file: `fixture/${name}/image.json`,
  version: "1",
  title: name,
  status: { state: "active" },
  base: { image: name, tag: "1" },
  arches: { amd64: parseRange("") },
  tier: 2,
  aliases: [],
  isDefault: false,
  prereleases: true,
  bubblewrap: [0, 11, 0],
});
const linux = { os: "linux" } as const;
const apk: ApkDistro = { ...common("alp"), ...linux, family: "alpine", packageManager: "apk" };
const apt: AptDistro = { ...common("deb"), ...linux, family: "debian", packageManager: "apt", gnuCoreutils: false };
const rpm: RpmDistro = {
  ...common("fed"),
  ...linux,
  family: "fedora",
  packageManager: "rpm",
  rpm: { groupCommand: "group install", devToolsGroup: '"c-development"', extraRepo: "crb", yumOverlayWorkaround: false },
};
const zypper: ZypperDistro = { ...common("suse"), ...linux, family: "opensuse", packageManager: "zypper" };
const pacman: PacmanDistro = { ...common("arch"), ...linux, family: "archlinux", packageManager: "pacman" };
const windows: WindowsDistro = {
  ...common("win"),
  os: "windows",
  family: "windows-server",
  packageManager: "windows",
  windows: { port: "mingw", aslrOff: false, wingetPackages: [] },
};

const build = (branch: string, extra: Partial<OpamBuild> = {}): OpamBuild => ({
  branch,
  commit: "0".repeat(40),
  follows: "branch",
  publicName: `opam-${branch}`,
  aliases: [],
  zeroInstallSolver: true,
  vendoredDeps: true,
  windows: true,
  ...extra,
});
const opam25 = build("2.5", { aliases: ["opam"] });
const opam: OpamSources = {
  url: "https://example.com/opam",
  builds: [opam25],
  bootstrap: opam25,
  windowsDefault: opam25,
  repository: { url: "https://example.com/opam-repository", branch: "master", commit: "1".repeat(40) },
};
const releases: Releases = { releases: ["4.14.2", "5.1.0", "5.4.1"].map(parseVersion), dev: [], betas: [], variants: [] };

const compiler = (distro: LinuxDistro | WindowsDistro, version: string) =>
  printDockerfile(compilerImage(distro, releases, parseVersion(version), "staging:opam")).split("\n");
const opamImage = (distro: LinuxDistro) => printDockerfile(linuxOpamImage(distro, opam, "branch")).split("\n");

describe("the zstd headers a compiler >= 5.1 builds against", () => {
  it.each([
    { distro: apk, install: "RUN apk add zstd-dev" },
    { distro: rpm, install: "RUN yum install -y libzstd-devel && yum clean packages" },
    { distro: zypper, install: "RUN zypper install --force-resolution -y libzstd-devel" },
    { distro: apt, install: "RUN DEBIAN_FRONTEND=noninteractive apt-get -y install libzstd-dev" },
    { distro: pacman, install: "RUN pacman -Syu --noconfirm zstd && yes | pacman -Scc" },
  ])("$distro.packageManager: installed as root for 5.1 and later, never before", ({ distro, install }) => {
    for (const version of ["5.1.0", "5.4.1"]) {
      const lines = compiler(distro, version);
      const at = lines.indexOf(install);
      expect(at, `${distro.name} ${version}`).toBeGreaterThan(0);
      expect(lines.slice(0, at).lastIndexOf("USER root")).toBeGreaterThan(0);
      expect(lines.slice(at)).toContain("USER opam");
    }
    expect(compiler(distro, "4.14.2").join("\n")).not.toMatch(/zstd/);
  });

  it("is not a Windows depext", () => {
    expect(compiler(windows, "5.4.1").join("\n")).not.toMatch(/zstd/);
  });
});

describe("git's set-up in the opam images", () => {
  const AUTODETACH = "RUN git config --global gc.autoDetach false";

  it.each([apk, apt, rpm, zypper, pacman].map((distro) => ({ distro })))(
    "$distro.packageManager: gc.autoDetach false right after the identity, in both stages",
    ({ distro }) => {
    const lines = opamImage(distro);
    const name = lines.flatMap((l, i) => (l === 'RUN git config --global user.name "Docker"' ? [i] : []));
    expect(name).toHaveLength(2);
    for (const i of name) {
      expect(lines[i - 1]).toBe('RUN git config --global user.email "docker@example.com"');
      expect(lines[i + 1]).toBe(AUTODETACH);
    }
    expect(lines.filter((l) => l === AUTODETACH)).toHaveLength(2);
    // Set before any git fetch: the builder clones opam, the runtime stage has opam init fetch the repository.
    expect(lines.indexOf(AUTODETACH)).toBeLessThan(lines.findIndex((l) => l.includes("git clone")));
    expect(lines.lastIndexOf(AUTODETACH)).toBeLessThan(lines.findIndex((l) => l.includes("opam init")));
    },
  );

  it("windows: after core.longpaths and before the safe directories, in each Cygwin git command", () => {
    const text = printDockerfile(windowsOpamImage(windows, opam, "branch"));
    const commands = text.split("\n").filter((l) => l.includes("git config --global user.email"));
    expect(commands).toHaveLength(2);
    for (const command of commands) {
      expect(command).toContain(
        "git config --system core.longpaths true && git config --global gc.autoDetach false && git config --global --add safe.directory ",
      );
    }
  });
});

describe("per-family facts", () => {
  it("rpm: the group command, the dev tools group and the extra repository come from the rpm facts", () => {
    const text = opamImage(rpm).join("\n");
    expect(text).toContain('RUN yum group install -y "c-development" && yum clean packages');
    expect(text).toContain("RUN dnf config-manager --set-enabled crb");
    expect(text).not.toContain("yum-plugin-ovl");
  });

  it("are required by the type: an rpm distro without them, or an apk distro with them, does not compile", () => {
    // @ts-expect-error rpm is required for an rpm distro
    const missing: RpmDistro = { ...common("x"), ...linux, family: "fedora", packageManager: "rpm" };
    // @ts-expect-error debian does not use rpm
    const wrongFamily: RpmDistro = { ...rpm, family: "debian" };
    // @ts-expect-error apk distros have no rpm facts
    const foreign: ApkDistro = { ...apk, rpm: rpm.rpm };
    expect([missing, wrongFamily, foreign]).toHaveLength(3);
  });

  it("apt: GNU coreutils replace uutils only when asked", () => {
    const swap = "RUN apt-get install -y --allow-remove-essential coreutils-from-gnu coreutils-from-uutils-";
    expect(opamImage(apt)).not.toContain(swap);
    expect(opamImage({ ...apt, gnuCoreutils: true })).toContain(swap);
  });

  it("builds bubblewrap from source when the distro's is older than 0.4.1", () => {
    expect(opamImage({ ...apk, bubblewrap: [0, 3, 0] }).join("\n")).toContain("bubblewrap-0.8.0.tar.xz");
    expect(opamImage(apk).join("\n")).not.toContain("bubblewrap-0.8.0.tar.xz");
  });

  it("gcc 15 and later: the patches overlay for OCaml < 5.1 except 4.14.2", () => {
    const gcc15 = { ...apk, gcc: [15, 2] as const };
    const overlay = /opam repo add ocaml-patches-overlay/;
    expect(printDockerfile(compilerImage(gcc15, releases, parseVersion("4.14.1"), "s"))).toMatch(overlay);
    expect(printDockerfile(compilerImage(gcc15, releases, parseVersion("4.14.2"), "s"))).not.toMatch(overlay);
    expect(printDockerfile(compilerImage(gcc15, releases, parseVersion("5.1.0"), "s"))).not.toMatch(overlay);
    expect(printDockerfile(compilerImage(apk, releases, parseVersion("4.14.1"), "s"))).not.toMatch(overlay);
  });
});
