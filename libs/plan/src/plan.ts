/**
 * The build plan: one pure function from the declared matrix to every image,
 * its per-arch builds (with their Dockerfiles) and its manifest pushes. How
 * the upstream pipeline names and orders them in its dump is print.ts's business.
 */
import { printDockerfile } from "../../dockerfile/src";
import {
  archiveImage,
  compilerImage,
  deprecationImage,
  linuxOpamImage,
  windowsOpamImage,
  FAMILIES,
  type Distro,
  type Matrix,
  type PinStyle,
  type WindowsDistro,
} from "../../distros/src";
import {
  compareVersions,
  compilerVariants,
  formatVersion,
  inRange,
  latestRelease,
  versionKey,
  type Arch,
  type OcamlVersion,
} from "../../ocaml/src";
import {
  ARCHIVE,
  compilerImageNames,
  imageName,
  publicTag,
  stagingTag,
  stagingTagName,
  stagingTagOf,
  windowsAllGroup,
  windowsAllNames,
  type Repositories,
} from "../../tags/src";

export type ImageKind = "opam" | "compiler" | "archive" | "windows-all" | "deprecated";

export interface Build {
  /** `<image>/<arch>`: unique in the plan. */
  readonly id: string;
  readonly image: string;
  readonly arch: Arch;
  readonly os: "linux" | "windows";
  /** The Dockerfile text; rendered on first use, so planning the graph alone stays cheap. */
  readonly dockerfile: string;
  /** The tag's own name in the staging repository (`debian-13-opam-amd64`), and the whole tag. */
  readonly tagName: string;
  readonly stagingTag: string;
  /** The build whose image this one starts FROM, if any. */
  readonly parent?: string;
  /** What the build context holds: opam-repository at its pin, or nothing but the Dockerfile. */
  readonly context: "opam-repository" | "dockerfile-only";
  /** The distro base image an opam or deprecation build starts FROM, with its pinned digest when there is one. */
  readonly base?: { readonly image: string; readonly tag: string; readonly digest?: string };
  /**
   * A Windows build's Windows version (manifest lists carry it as `os.version`): its
   * distro's base tag when that is one (`10.0.20348.2402`), as upstream tags the base
   * with the version its builders run.
   */
  readonly osVersion?: string;
}

/** A full Windows version, as Windows images' configs and manifest lists carry it. */
export const WINDOWS_VERSION = /^10\.0\.\d+\.\d+$/;
const osVersionOf = (distro: Distro): { osVersion?: string } =>
  distro.os === "windows" && WINDOWS_VERSION.test(distro.base.tag) ? { osVersion: distro.base.tag } : {};

export interface Manifest {
  /** The tag's own name in the public repository (`debian-13-ocaml-5.4`, `latest`). */
  readonly name: string;
  /** The public tag this push creates or moves. */
  readonly tag: string;
  /** Staging tags joined into it, in order. */
  readonly sources: readonly string[];
  /** The builds (by id) those staging tags hold, in the same order. */
  readonly builds: readonly string[];
}

export interface Image {
  /** Named like its public tag: `debian-13-opam`, `debian-13-ocaml-4.14-flambda`, `archive`. */
  readonly name: string;
  readonly kind: ImageKind;
  /** The distro it belongs to (for `windows-all`, the group). */
  readonly distro: string;
  readonly compiler?: string;
  readonly builds: readonly Build[];
  readonly manifests: readonly Manifest[];
  /** Images whose builds this image's builds or manifests use. */
  readonly dependsOn: readonly string[];
  /** A deprecation image only: the distro it stands in for was deprecated on `since`; its base is `baseDistro`'s. */
  readonly retired?: Retired;
}

export interface Retired {
  /** The day the distro was deprecated (YYYY-MM-DD). */
  readonly since: string;
  /** The active Alpine distro whose base image the deprecation image starts FROM. */
  readonly baseDistro: string;
}

/** The Windows distros of one port (`windows-mingw`), also published together under `windows-all-<port>` names. */
export interface WindowsGroup {
  readonly name: string;
  /** The member distros, newest first. */
  readonly members: readonly string[];
}

export interface Plan {
  /** Distro by distro (opam image, compilers by version, the archive after the default distro), then each Windows group's images. */
  readonly images: readonly Image[];
  /** The opam-repository checkout that is the context of every opam image. */
  readonly repository: Matrix["opam"]["repository"];
  readonly windowsGroups: readonly WindowsGroup[];
}

export interface PlanOptions {
  readonly repositories: Repositories;
  readonly pins: PinStyle;
  /** What this site builds; default: every OS and arch. The plan leaves the rest out entirely. */
  readonly site?: Site;
  /**
   * The clock and the grace period: a deprecated distro whose grace period is over
   * has its former tags pushed as the deprecation image. Without it (the upstream
   * dump) deprecated distros are planned nowhere.
   */
  readonly retirement?: Retirement;
}

import { graceOver, type Retirement } from "./retirement";
export { DEFAULT_GRACE_DAYS, graceOver, type Retirement } from "./retirement";

/** The project and image name of a retired distro's deprecation image. */
export const deprecationImageName = (distro: string): string => `${distro}-deprecated`;

/** The operating systems and arches a site builds. */
export interface Site {
  readonly os: readonly ("linux" | "windows")[];
  readonly arches: readonly Arch[];
}

/** A distro's arches that the site builds (all of them without a site). */
const siteArches = (arches: readonly Arch[], site: Site | undefined): Arch[] => arches.filter((a) => !site || site.arches.includes(a));


/** Made once: `localeCompare` with options makes a collator on every call, a third of planning's time. */
const NUMERIC_ORDER = new Intl.Collator("en", { numeric: true });

export function distroOrder(a: Distro, b: Distro): number {
  return FAMILIES.indexOf(a.family) - FAMILIES.indexOf(b.family) || NUMERIC_ORDER.compare(a.version, b.version);
}

/** The arches a distro is built for, in declaration order: those whose range admits the latest compiler. */
export function distroArches(distro: Distro, latest: OcamlVersion): Arch[] {
  return (Object.keys(distro.arches) as Arch[]).filter((arch) => {
    const range = distro.arches[arch];
    return range !== undefined && inRange(latest, range);
  });
}

/** The compilers built for a distro on one arch, variants included for tier-1 distros. */
export function distroCompilers(matrix: Matrix, distro: Distro, arch: Arch): OcamlVersion[] {
  const { releases } = matrix;
  const range = distro.arches[arch];
  const main = [...releases.releases, ...(distro.prereleases ? [...releases.dev, ...releases.betas] : [])].filter(
    (v) => range !== undefined && inRange(v, range),
  );
  return distro.tier === 1 ? main.flatMap((v) => compilerVariants(releases, arch, v)) : main;
}

function lazily(make: () => string): () => string {
  let value: string | undefined;
  return () => (value ??= make());
}

function build(fields: Omit<Build, "dockerfile">, dockerfile: () => string): Build {
  return {
    ...fields,
    get dockerfile() {
      return dockerfile();
    },
  };
}

interface DistroPlan {
  readonly distro: Distro;
  readonly opam: Image;
  /** Compiler images in version order. */
  readonly compilers: readonly { readonly version: OcamlVersion; readonly image: Image }[];
}

function planDistro(matrix: Matrix, distro: Distro, opts: PlanOptions): DistroPlan {
  const repos = opts.repositories;
  const os = distro.os;
  const latest = latestRelease(matrix.releases);
  // Builds and manifest entries list the arches last-declared first, as upstream does.
  const arches = siteArches(distroArches(distro, latest), opts.site).reverse();
  const opamName = imageName(distro.name);
  const opamDockerfile = lazily(() =>
    printDockerfile(
      distro.os === "linux" ? linuxOpamImage(distro, matrix.opam, opts.pins) : windowsOpamImage(distro, matrix.opam, opts.pins),
    ),
  );
  const opamBuilds = arches.map((arch) =>
    build(
      {
        id: `${opamName}/${arch}`,
        image: opamName,
        arch,
        os,
        tagName: stagingTagName(opamName, arch),
        stagingTag: stagingTag(repos, opamName, arch),
        context: "opam-repository",
        base: distro.base,
        ...osVersionOf(distro),
      },
      opamDockerfile,
    ),
  );
  const opam: Image = {
    name: opamName,
    kind: "opam",
    distro: distro.name,
    builds: opamBuilds,
    manifests: [manifest(repos, opamName, opamBuilds)],
    dependsOn: [],
  };

  const compilersOn = new Map(arches.map((arch) => [arch, distroCompilers(matrix, distro, arch)]));
  const keysOn = new Map([...compilersOn].map(([arch, vs]) => [arch, new Set(vs.map(versionKey))]));
  const distinct = new Map<string, OcamlVersion>();
  for (const v of [...compilersOn.values()].flat()) if (!distinct.has(versionKey(v))) distinct.set(versionKey(v), v);
  const versions = [...distinct.values()].sort(compareVersions);

  const aliasFacts = { distro: distro.name, aliases: distro.aliases, os, isDefault: distro.isDefault };
  const compilers = versions.map((version) => {
    const name = imageName(distro.name, version);
    const key = versionKey(version);
    const builds = opamBuilds
      .filter((parent) => keysOn.get(parent.arch)?.has(key))
      .map((parent) =>
        build(
          {
            id: `${name}/${parent.arch}`,
            image: name,
            arch: parent.arch,
            os,
            tagName: stagingTagName(name, parent.arch),
            stagingTag: stagingTag(repos, name, parent.arch),
            parent: parent.id,
            context: "dockerfile-only",
            ...osVersionOf(distro),
          },
          lazily(() => printDockerfile(compilerImage(distro, matrix.releases, version, parent.stagingTag))),
        ),
      );
    const image: Image = {
      name,
      kind: "compiler",
      distro: distro.name,
      compiler: formatVersion(version),
      builds,
      manifests: compilerImageNames(aliasFacts, version, latest).map((n) => manifest(repos, n, builds)),
      dependsOn: [opamName],
    };
    return { version, image };
  });
  return { distro, opam, compilers };
}

/** A public tag and the builds it joins, in order. */
function manifest(repos: Repositories, name: string, builds: readonly Build[]): Manifest {
  return { name, tag: publicTag(repos, name), sources: builds.map((b) => b.stagingTag), builds: builds.map((b) => b.id) };
}

/**
 * A retired distro: one deprecation build per arch it had, pushed under every
 * tag its opam and compiler images had while it was active (`former`), each
 * listing the arches that tag listed.
 */
function planRetired(former: DistroPlan, since: string, base: Distro, opts: PlanOptions): Image {
  const repos = opts.repositories;
  const name = deprecationImageName(former.distro.name);
  const dockerfile = lazily(() => printDockerfile(deprecationImage(base.base)));
  const builds = former.opam.builds.map((b) =>
    build(
      {
        id: `${name}/${b.arch}`,
        image: name,
        arch: b.arch,
        os: "linux",
        tagName: stagingTagName(name, b.arch),
        stagingTag: stagingTag(repos, name, b.arch),
        context: "dockerfile-only",
        base: base.base,
      },
      dockerfile,
    ),
  );
  const byArch = new Map(builds.map((b) => [b.arch, b]));
  const formerImages = [former.opam, ...former.compilers.map((c) => c.image)];
  const manifests = formerImages.flatMap((image) =>
    image.manifests.map((m) => manifest(repos, m.name, image.builds.map((b) => byArch.get(b.arch) as Build))),
  );
  return { name, kind: "deprecated", distro: former.distro.name, builds, manifests, dependsOn: [], retired: { since, baseDistro: base.name } };
}

function planArchive(base: DistroPlan, opts: PlanOptions): Image {
  const parent = base.opam.builds.find((b) => b.arch === "amd64");
  if (!parent) throw new Error(`the default distro ${base.distro.name} must be built for amd64 to make the archive image`);
  const repos = opts.repositories;
  const archive = build(
    {
      id: `${ARCHIVE}/amd64`,
      image: ARCHIVE,
      arch: "amd64",
      os: "linux",
      tagName: ARCHIVE,
      stagingTag: stagingTagOf(repos, ARCHIVE),
      parent: parent.id,
      context: "dockerfile-only",
    },
    lazily(() => printDockerfile(archiveImage(parent.stagingTag, publicTag(repos, ARCHIVE)))),
  );
  return {
    name: ARCHIVE,
    kind: "archive",
    distro: base.distro.name,
    builds: [archive],
    manifests: [manifest(repos, ARCHIVE, [archive])],
    dependsOn: [base.opam.name],
  };
}

/** The multi-distro manifests of one Windows group (`windows-mingw`), newest compiler first. */
function planWindowsGroup(group: string, members: readonly DistroPlan[], latest: OcamlVersion, opts: PlanOptions): Image[] {
  const allName = windowsAllGroup(group);
  // Each version's images, members in order; a Map keeps the first of equal versions, as the plan did before.
  const byVersion = new Map<string, { version: OcamlVersion; parts: Image[] }>();
  for (const m of members) {
    for (const c of m.compilers) {
      const entry = byVersion.get(versionKey(c.version)) ?? { version: c.version, parts: [] };
      entry.parts.push(c.image);
      byVersion.set(versionKey(c.version), entry);
    }
  }
  const versions = [...byVersion.values()].sort((a, b) => compareVersions(b.version, a.version));
  return versions.map(({ version, parts }): Image => {
    const builds = parts.flatMap((p) => p.builds);
    return {
      name: imageName(allName, version),
      kind: "windows-all",
      distro: group,
      compiler: formatVersion(version),
      builds: [],
      manifests: windowsAllNames(allName, version, latest).map((n) => manifest(opts.repositories, n, builds)),
      dependsOn: parts.map((p) => p.name),
    };
  });
}

export function makePlan(matrix: Matrix, opts: PlanOptions): Plan {
  // Deprecated distros are built nowhere; once retired (below) their tags get the deprecation image.
  const active = matrix.distros.filter((d) => d.status.state === "active").sort(distroOrder);
  const defaults = active.filter((d) => d.isDefault);
  if (defaults.length !== 1) {
    throw new Error(`exactly one distro must be the default, found ${defaults.length}: ${defaults.map((d) => d.file).join(", ")}`);
  }
  // A site that builds a subset plans only the distros it builds on some arch of, and only those arches.
  const { site } = opts;
  const latest = latestRelease(matrix.releases);
  const distros = active.filter((d) => !site || (site.os.includes(d.os) && siteArches(distroArches(d, latest), site).length > 0));
  const plans = new Map(distros.map((d) => [d.name, planDistro(matrix, d, opts)]));
  const planOf = (d: Distro) => plans.get(d.name) as DistroPlan;
  const windows = distros.filter((d): d is WindowsDistro => d.os === "windows");
  // The archive is built on the default distro's amd64 opam image: a site without it has no archive.
  const defaultPlan = plans.get((defaults[0] as Distro).name);
  const archive = defaultPlan?.opam.builds.some((b) => b.arch === "amd64") ? planArchive(defaultPlan, opts) : undefined;

  // Windows distros of one port are also published together under `windows-all-<port>` names;
  // within a group the newest distro comes first.
  const ports = [...new Set(windows.map((d) => d.windows.port))].sort();
  const groups = ports.map((port) => {
    const name = `windows-${port}`;
    const members = windows.filter((d) => d.windows.port === port).reverse().map(planOf);
    return { name, members, all: planWindowsGroup(name, members, latestRelease(matrix.releases), opts) };
  });

  // Retired distros (Linux only: the deprecation image is an Alpine), planned as if active to know their tags.
  const { retirement } = opts;
  const retiredDistros = retirement
    ? matrix.distros.filter(
        (d) =>
          d.status.state === "deprecated" &&
          graceOver(d.status.since, retirement) &&
          d.os === "linux" &&
          (!site || (site.os.includes("linux") && siteArches(distroArches(d, latest), site).length > 0)),
      )
    : [];
  const alpineBase = active.filter((d) => d.family === "alpine").at(-1);
  const retired = new Map(
    retiredDistros.map((d) => {
      if (!alpineBase) throw new Error(`${d.file}: its deprecation image starts FROM the newest active Alpine's base, and no Alpine distro is active`);
      const since = d.status.state === "deprecated" ? d.status.since : "";
      return [d.name, planRetired(planDistro(matrix, { ...d, status: { state: "active" } }, opts), since, alpineBase, opts)];
    }),
  );

  const images: Image[] = [];
  for (const d of [...distros, ...retiredDistros].sort(distroOrder)) {
    const gone = retired.get(d.name);
    if (gone) {
      images.push(gone);
      continue;
    }
    const p = planOf(d);
    images.push(p.opam, ...p.compilers.map((c) => c.image));
    if (d.isDefault && archive) images.push(archive);
  }
  for (const group of groups) images.push(...group.all);

  return {
    images,
    repository: matrix.opam.repository,
    windowsGroups: groups.map((g) => ({ name: g.name, members: g.members.map((m) => m.distro.name) })),
  };
}
