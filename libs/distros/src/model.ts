/**
 * The typed model of what `images/` declares: distros, compiler releases and
 * opam builds. Loading and validation live in libs/matrix; everything here is plain data.
 */
import type { Arch, OcamlVersion, Releases, VersionRange } from "../../ocaml/src";

export const FAMILIES = [
  "alpine",
  "archlinux",
  "centos",
  "debian",
  "fedora",
  "oraclelinux",
  "opensuse",
  "ubuntu",
  "windows",
  "windows-server",
] as const;
export type Family = (typeof FAMILIES)[number];

export type PackageManager = "apk" | "apt" | "rpm" | "zypper" | "pacman" | "windows";
export type Os = "linux" | "windows";

/** Total facts about each family: which package manager it uses and which OS it runs. */
export const FAMILY_FACTS = {
  alpine: { packageManager: "apk", os: "linux" },
  archlinux: { packageManager: "pacman", os: "linux" },
  centos: { packageManager: "rpm", os: "linux" },
  debian: { packageManager: "apt", os: "linux" },
  fedora: { packageManager: "rpm", os: "linux" },
  oraclelinux: { packageManager: "rpm", os: "linux" },
  opensuse: { packageManager: "zypper", os: "linux" },
  ubuntu: { packageManager: "apt", os: "linux" },
  windows: { packageManager: "windows", os: "windows" },
  "windows-server": { packageManager: "windows", os: "windows" },
} as const satisfies Record<Family, { readonly packageManager: PackageManager; readonly os: Os }>;

/** The families that use a package manager, e.g. `"centos" | "fedora" | "oraclelinux"` for rpm. */
export type FamilyUsing<PM extends PackageManager> = {
  [F in Family]: (typeof FAMILY_FACTS)[F]["packageManager"] extends PM ? F : never;
}[Family];

export const familyUses = <PM extends PackageManager>(family: Family, pm: PM): family is FamilyUsing<PM> =>
  FAMILY_FACTS[family].packageManager === pm;

export interface RpmFacts {
  /** How yum installs a package group: dnf 3's `groupinstall`, or dnf 5's `group install`. */
  readonly groupCommand: "groupinstall" | "group install";
  readonly devToolsGroup: string;
  /** An extra repository enabled in the runtime stage (CentOS's `crb`). */
  readonly extraRepo?: string;
  /** Old yum on overlayfs needs `yum-plugin-ovl` (CentOS 7 and earlier). */
  readonly yumOverlayWorkaround: boolean;
}

export interface WindowsFacts {
  readonly port: "mingw" | "msvc";
  /** Turn off ASLR for Cygwin's DLL (needed on the older Windows base). */
  readonly aslrOff: boolean;
  /** Packages installed with winget in the runtime stage. */
  readonly wingetPackages: readonly string[];
}

/**
 * Active distros are planned; deprecated ones are built no more and, once a
 * grace period after `since` (a day, YYYY-MM-DD) is over, their tags are
 * replaced by the deprecation image.
 */
export type DistroStatus = { readonly state: "active" } | { readonly state: "deprecated"; readonly since: string };

/** What every distro declares, whatever its family. */
export interface DistroBase {
  /** The image name and tag prefix, e.g. `debian-13`; the folder name under images/. */
  readonly name: string;
  /** The file it was declared in, for error messages. */
  readonly file: string;
  /** The family's version, e.g. `13`, `24.04`, `tumbleweed`, `ltsc2022`. */
  readonly version: string;
  readonly title: string;
  readonly status: DistroStatus;
  readonly base: { readonly image: string; readonly tag: string; readonly digest?: string };
  /** For each arch built, the compilers (by full version) built for it. */
  readonly arches: Readonly<Partial<Record<Arch, VersionRange>>>;
  readonly tier: 1 | 2 | 3;
  /** Other tags that name this distro's images, e.g. `debian`, `ubuntu-lts`. */
  readonly aliases: readonly string[];
  /** The default distro: its latest compiler image is also `latest`, and the archive image is built from it. */
  readonly isDefault: boolean;
  /** Whether development compilers and betas are built too. */
  readonly prereleases: boolean;
  /** The distro's own bubblewrap version, if it packages one. */
  readonly bubblewrap?: readonly number[];
  /** The default gcc (major, minor), if known. */
  readonly gcc?: readonly [number, number];
  /** The OCaml the distro packages itself, if any (a fact upstream keeps; no image uses it). */
  readonly builtinOcaml?: OcamlVersion;
}

type NoFacts = Record<never, never>;

/** The facts only some package managers need; the others need none. */
interface FactsByPackageManager {
  apk: NoFacts;
  /** Replace uutils coreutils with GNU's (Ubuntu 25.10+). */
  apt: { readonly gnuCoreutils: boolean };
  rpm: { readonly rpm: RpmFacts };
  zypper: NoFacts;
  pacman: NoFacts;
  windows: { readonly windows: WindowsFacts };
}

/** A distro of the families that use `PM`, with exactly the facts `PM` needs. */
export type DistroUsing<PM extends PackageManager> = DistroBase &
  FactsByPackageManager[PM] & {
    readonly family: FamilyUsing<PM>;
    readonly packageManager: PM;
    readonly os: (typeof FAMILY_FACTS)[FamilyUsing<PM>]["os"];
  };

export type ApkDistro = DistroUsing<"apk">;
export type AptDistro = DistroUsing<"apt">;
export type RpmDistro = DistroUsing<"rpm">;
export type ZypperDistro = DistroUsing<"zypper">;
export type PacmanDistro = DistroUsing<"pacman">;
export type LinuxDistro = ApkDistro | AptDistro | RpmDistro | ZypperDistro | PacmanDistro;
export type WindowsDistro = DistroUsing<"windows">;
/** A distro, discriminated by `packageManager` (and by `os`): built once, when images/ is loaded. */
export type Distro = LinuxDistro | WindowsDistro;

export interface OpamBuild {
  /** The opam branch, e.g. `2.3` or `master`. */
  readonly branch: string;
  /** The pinned commit of that branch. */
  readonly commit: string;
  /** What update-pins moves the pin to: the branch's head, or the series' newest release tag. */
  readonly follows: "branch" | "releases";
  /** The installed binary's name (`opam-2.3`, `opam-dev`). */
  readonly publicName: string;
  /** Extra names hard-linked to the binary (`opam`). */
  readonly aliases: readonly string[];
  readonly zeroInstallSolver: boolean;
  readonly vendoredDeps: boolean;
  /** Built for Windows images too (native Windows support starts with opam 2.2). */
  readonly windows: boolean;
}

export interface OpamSources {
  /** Where opam is cloned from. */
  readonly url: string;
  readonly builds: readonly OpamBuild[];
  /** The build whose commit bootstraps the compiler all builds share. */
  readonly bootstrap: OpamBuild;
  /** The opam binary that `opam` names on Windows. */
  readonly windowsDefault: OpamBuild;
  /** The opam-repository every image starts from: the build context of each opam image. */
  readonly repository: { readonly url: string; readonly branch: string; readonly commit: string };
}

export interface Matrix {
  readonly distros: readonly Distro[];
  readonly releases: Releases;
  readonly opam: OpamSources;
}

/** How pins print: real commit ids, or branch names (as in the upstream reference plan). */
export type PinStyle = "commit" | "branch";

export const pinOf = (build: OpamBuild, style: PinStyle): string => (style === "commit" ? build.commit : build.branch);

export type { OcamlVersion };
