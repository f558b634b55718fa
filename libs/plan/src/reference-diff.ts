/**
 * Compares a plan in the reference (upstream dump) format against an older
 * reference dump, section by section, build by build and line by line, and
 * explains every difference by one of the upstream changes made since that
 * dump — or reports it as unexplained. Pure: text in, report out.
 */

/**
 * The upstream changes since the 8.4.0 dump that show in a plan: ocaml-dockerfile's up to
 * 8.4.2, and docker-base-images' own since (the opam-repository copy's owner by number, #352).
 */
export const CHANGES_SINCE_8_4_0 = [
  "gc.autoDetach added",
  "zstd package changed",
  "tmpfs mount printed as tmpfs",
  "Debian 12 without s390x",
  "Alpine 3.23 gone",
  "Alpine 3.24 added",
  "opam-repository copied to uid:gid 1000:1000",
] as const;
export type Change = (typeof CHANGES_SINCE_8_4_0)[number];

export interface ReferenceDiff {
  /** How many differences each change explains (lines, builds or manifests, see `explained`). */
  readonly counts: Readonly<Record<Change, number>>;
  /** One line per explained difference: `<change>: <section> <build or manifest>: <detail>`. */
  readonly explained: readonly string[];
  /** Differences no change explains; the comparison passes when this is empty. */
  readonly unexplained: readonly string[];
  /** Sections of the plan the reference does not have and that are not new distros of a change. */
  readonly notInReference: readonly string[];
}

interface Section {
  readonly builds: Map<string, string[]>;
  readonly manifests: string[];
}

/**
 * A dump: a section name alone on a line, each build as its label followed by
 * its tab-indented Dockerfile, each manifest push as `sources -> tag`.
 */
export function parseDump(text: string): Map<string, Section> {
  const sections = new Map<string, Section>();
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  let section: Section | undefined;
  let body: string[] | undefined;
  const trim = () => {
    while (body && body.at(-1) === "") body.pop();
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line === "" || line.startsWith("\t")) {
      body?.push(line);
      continue;
    }
    trim();
    body = undefined;
    if (line.includes(" -> ")) {
      section = section ?? newSection(sections, "(none)");
      section.manifests.push(line);
    } else if (lines[i + 1]?.startsWith("\t")) {
      // A label followed by its Dockerfile; the same label may recur in a section (Windows groups).
      section = section ?? newSection(sections, "(none)");
      let key = line;
      for (let n = 2; section.builds.has(key); n++) key = `${line}#${n}`;
      body = [];
      section.builds.set(key, body);
    } else {
      section = sections.get(line) ?? newSection(sections, line);
    }
  }
  trim();
  return sections;
}

function newSection(sections: Map<string, Section>, name: string): Section {
  const section: Section = { builds: new Map(), manifests: [] };
  sections.set(name, section);
  return section;
}

const GIT_NAME = '\tRUN git config --global user.name "Docker"';
const GC_AUTODETACH = "\tRUN git config --global gc.autoDetach false";
const LONGPATHS = "git config --system core.longpaths true";
/** The zstd install lines of 8.4.0 and what 8.4.1 made of them. */
const ZSTD_REWRITES: readonly (readonly [RegExp, string])[] = [
  [/^(\tRUN apk add )zstd$/, "$1zstd-dev"],
  [/^(\tRUN yum install -y )zstd( && yum clean packages)$/, "$1libzstd-devel$2"],
  [/^(\tRUN zypper install --force-resolution -y )zstd$/, "$1libzstd-devel"],
];
/** The opam image's copy of opam-repository, owned by the opam user by name (8.4.0's dump) or by number (since #352). */
const OPAM_REPOSITORY_COPY = { by: (owner: string) => `\tCOPY --link --chown=${owner} [ ".", "/home/opam/opam-repository" ]` } as const;
const DEPRECATED = { from: "alpine-3.23", to: "alpine-3.24" } as const;

/** Explains one differing line pair (or an added line), or says it cannot. */
function explainLines(
  ref: readonly string[],
  act: readonly string[],
  i: number,
  j: number,
): { change: Change; ref: number; act: number; detail: string } | undefined {
  const r = ref[i];
  const a = act[j];
  if (a === GC_AUTODETACH && act[j - 1] === GIT_NAME) return { change: "gc.autoDetach added", ref: 0, act: 1, detail: "line after user.name" };
  if (r !== undefined && a !== undefined) {
    if (r.includes(LONGPATHS) && a === r.replace(LONGPATHS, `${LONGPATHS} && git config --global gc.autoDetach false`)) {
      return { change: "gc.autoDetach added", ref: 1, act: 1, detail: "Cygwin git command, after core.longpaths" };
    }
    for (const [pattern, replacement] of ZSTD_REWRITES) {
      if (pattern.test(r) && a === r.replace(pattern, replacement)) {
        return { change: "zstd package changed", ref: 1, act: 1, detail: a.trim() };
      }
    }
    if (r === OPAM_REPOSITORY_COPY.by("opam:opam") && a === OPAM_REPOSITORY_COPY.by("1000:1000")) {
      return { change: "opam-repository copied to uid:gid 1000:1000", ref: 1, act: 1, detail: a.trim() };
    }
    if (/--mount=type=bind/.test(r) && a === r.replace(/--mount=type=bind(,target=[^,\s]+(,size=\d+)?)(?=[\s])/g, "--mount=type=tmpfs$1")) {
      return { change: "tmpfs mount printed as tmpfs", ref: 1, act: 1, detail: a.trim() };
    }
  }
  return undefined;
}

/** The reference 8.4.0 dump against a plan of 8.4.2's recipes: every difference must be one of CHANGES_SINCE_8_4_0. */
export function diffAgainstReference(referenceText: string, actualText: string): ReferenceDiff {
  const reference = parseDump(referenceText);
  const actual = parseDump(actualText);
  const counts = Object.fromEntries(CHANGES_SINCE_8_4_0.map((c) => [c, 0])) as Record<Change, number>;
  const explained: string[] = [];
  const unexplained: string[] = [];
  const notInReference: string[] = [];
  const explain = (change: Change, what: string) => {
    counts[change]++;
    explained.push(`${change}: ${what}`);
  };

  const compareBuild = (where: string, ref: readonly string[], act: readonly string[]) => {
    let i = 0;
    let j = 0;
    while (i < ref.length || j < act.length) {
      if (i < ref.length && j < act.length && ref[i] === act[j]) {
        i++;
        j++;
        continue;
      }
      const e = explainLines(ref, act, i, j);
      if (!e) {
        unexplained.push(`${where}: line ${j + 1}: expected ${JSON.stringify(ref[i] ?? "(end)")}, got ${JSON.stringify(act[j] ?? "(end)")}`);
        return;
      }
      explain(e.change, `${where}: line ${j + 1}: ${e.detail}`);
      i += e.ref;
      j += e.act;
    }
  };

  const compareSection = (name: string, ref: Section, act: Section, rename: (s: string) => string = (s) => s) => {
    for (const [key, refBody] of ref.builds) {
      const actBody = act.builds.get(rename(key));
      if (actBody) compareBuild(`${name} ${rename(key)}`, refBody.map(rename), actBody);
      else if (name === "debian-12" && key.endsWith("/s390x")) explain("Debian 12 without s390x", `${name} ${key}: build dropped`);
      else unexplained.push(`${name}: build ${key} is missing`);
    }
    for (const key of act.builds.keys()) {
      if (![...ref.builds.keys()].some((k) => rename(k) === key)) unexplained.push(`${name}: build ${key} is new`);
    }
    const actManifests = new Set(act.manifests);
    const matched = new Set<string>();
    for (const refManifest of ref.manifests.map(rename)) {
      if (actManifests.has(refManifest)) {
        matched.add(refManifest);
        continue;
      }
      const [sources = "", tag = ""] = refManifest.split(" -> ");
      const withoutS390x = `${sources
        .split(", ")
        .filter((s) => !s.endsWith("-s390x"))
        .join(", ")} -> ${tag}`;
      if (name === "debian-12" && withoutS390x !== refManifest && actManifests.has(withoutS390x)) {
        matched.add(withoutS390x);
        explain("Debian 12 without s390x", `${name} manifest ${tag}: s390x source dropped`);
      } else unexplained.push(`${name}: manifest missing or different: ${refManifest}`);
    }
    for (const m of act.manifests) if (!matched.has(m)) unexplained.push(`${name}: manifest is new: ${m}`);
  };

  for (const [name, ref] of reference) {
    const act = actual.get(name);
    if (act) compareSection(name, ref, act);
    else if (name === DEPRECATED.from) explain("Alpine 3.23 gone", `${name}: section gone (${ref.builds.size} builds, ${ref.manifests.length} manifests)`);
    else unexplained.push(`${name}: section is missing`);
  }
  for (const [name, act] of actual) {
    if (reference.has(name)) continue;
    const replaced = reference.get(DEPRECATED.from);
    if (name === DEPRECATED.to && replaced) {
      // The new Alpine must be the old one renamed, with the other changes and nothing else.
      explain("Alpine 3.24 added", `${name}: section added (${act.builds.size} builds, ${act.manifests.length} manifests)`);
      compareSection(name, replaced, act, (s) => s.split(DEPRECATED.from).join(DEPRECATED.to).replaceAll("alpine:3.23", "alpine:3.24"));
    } else notInReference.push(name);
  }
  return { counts, explained, unexplained, notInReference };
}
