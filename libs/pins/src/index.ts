/**
 * Pins: every input of an image that can move upstream (an opam branch, the
 * opam-repository branch, a base image tag) is recorded in images/ as the
 * commit or digest it stood at. The updater looks the current ones up and
 * rewrites exactly the pins that moved. The look-ups are behind `Upstream`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { IMAGES_LAYOUT, loadJson, loadMatrix } from "../../matrix/src";

export interface Upstream {
  /** The commit a branch of a git repository points at now. */
  branchHead(url: string, branch: string): Promise<string>;
  /** The digest a tag points at now (for a multi-arch image, its index). */
  imageDigest(image: string, tag: string): Promise<string>;
  /** Every tag of a git repository with the commit it names (`git ls-remote --tags`, annotated tags peeled). */
  tags(url: string): Promise<readonly GitTag[]>;
}

export interface GitTag {
  readonly name: string;
  readonly commit: string;
}

/** The tags of `git ls-remote --tags` output; an annotated tag's peeled line (`^{}`) gives its commit. */
export function parseLsRemoteTags(output: string): GitTag[] {
  const byName = new Map<string, string>();
  for (const line of output.split("\n")) {
    const m = /^([0-9a-f]{40})\s+refs\/tags\/(.+?)(\^\{\})?$/.exec(line.trim());
    if (!m) continue;
    const [, commit, name, peeled] = m as unknown as [string, string, string, string | undefined];
    if (peeled || !byName.has(name)) byName.set(name, commit);
  }
  return [...byName].map(([name, commit]) => ({ name, commit }));
}

/** The newest release of a series (`2.1` → the highest `2.1.N`); pre-releases (`2.2.0-beta1`, `2.2.0~rc1`) are not releases. */
export function newestRelease(tags: readonly GitTag[], series: string): GitTag | undefined {
  const m = /^(\d+)\.(\d+)$/.exec(series);
  if (!m) return undefined;
  let best: { tag: GitTag; patch: number } | undefined;
  for (const tag of tags) {
    const r = /^(\d+)\.(\d+)\.(\d+)$/.exec(tag.name);
    if (!r || Number(r[1]) !== Number(m[1]) || Number(r[2]) !== Number(m[2])) continue;
    const patch = Number(r[3]);
    if (!best || patch > best.patch) best = { tag, patch };
  }
  return best?.tag;
}

export interface PinChange {
  readonly file: string;
  /** What the pin is, e.g. `opam 2.5` or `base debian:13`. */
  readonly pin: string;
  readonly from: string | undefined;
  readonly to: string;
}

type Json = Record<string, unknown>;

/** Where a pin moves to: a commit or digest, and for a release, the tag it came from. */
interface Found {
  readonly value: string;
  readonly release?: string;
}

interface PinSite {
  readonly file: string;
  readonly pin: string;
  read(json: Json): string | undefined;
  write(json: Json, found: Found): void;
  lookUp(upstream: Upstream, json: Json): Promise<Found>;
}

/** Every pin of a valid matrix: the matrix is loaded first, so images/ is read the one way and every file is checked. */
function sites(root: string): PinSite[] {
  const matrix = loadMatrix(root);
  const list: PinSite[] = [];
  matrix.opam.builds.forEach((build, i) => {
    const entry = (json: Json) => (json.builds as Json[])[i] as Json;
    if (build.follows === "releases") {
      // A finished series follows its newest release tag, so it never reports itself as a development version.
      list.push({
        file: IMAGES_LAYOUT.opam,
        pin: `opam ${build.branch} (releases)`,
        read: (json) => entry(json).commit as string | undefined,
        write: (json, found) => Object.assign(entry(json), { commit: found.value, ...(found.release ? { release: found.release } : {}) }),
        lookUp: async (upstream, json) => {
          const url = json.url as string;
          const release = newestRelease(await upstream.tags(url), build.branch);
          if (!release) {
            throw new Error(`${IMAGES_LAYOUT.opam}: builds[${i}]: follows releases, but ${url} has no release tag ${build.branch}.N; follow its branch until it has one`);
          }
          return { value: release.commit, release: release.name };
        },
      });
      return;
    }
    list.push({
      file: IMAGES_LAYOUT.opam,
      pin: `opam ${build.branch}`,
      read: (json) => entry(json).commit as string | undefined,
      write: (json, found) => (entry(json).commit = found.value),
      lookUp: async (upstream, json) => ({ value: await upstream.branchHead(json.url as string, entry(json).branch as string) }),
    });
  });
  list.push({
    file: IMAGES_LAYOUT.opamRepository,
    pin: "opam-repository",
    read: (json) => json.commit as string | undefined,
    write: (json, found) => (json.commit = found.value),
    lookUp: async (upstream, json) => ({ value: await upstream.branchHead(json.url as string, json.branch as string) }),
  });
  // A deprecated distro is built nowhere: its base is history, not a pin to move.
  for (const distro of matrix.distros.filter((d) => d.status.state !== "deprecated")) {
    list.push({
      file: distro.file,
      pin: `base ${distro.base.image}:${distro.base.tag}`,
      read: (j) => (j.base as Json).digest as string | undefined,
      write: (j, found) => ((j.base as Json).digest = found.value),
      lookUp: async (upstream, j) => ({ value: await upstream.imageDigest((j.base as Json).image as string, (j.base as Json).tag as string) }),
    });
  }
  return list;
}

/**
 * Looks every pin up and returns those that moved. With `write`, rewrites
 * their files (each file whole, keys in place).
 */
export async function updatePins(root: string, upstream: Upstream, opts: { write: boolean }): Promise<PinChange[]> {
  const changes: PinChange[] = [];
  const files = new Map<string, Json>();
  const load = (file: string) => {
    const known = files.get(file);
    if (known) return known;
    const json = loadJson(root, file) as Json;
    files.set(file, json);
    return json;
  };
  const touched = new Set<string>();
  for (const site of sites(root)) {
    const json = load(site.file);
    const current = site.read(json);
    const found = await site.lookUp(upstream, json);
    if (current === found.value) continue;
    changes.push({ file: site.file, pin: found.release ? `${site.pin}: ${found.release}` : site.pin, from: current, to: found.value });
    site.write(json, found);
    touched.add(site.file);
  }
  if (opts.write) {
    for (const file of touched) writeFileSync(join(root, file), JSON.stringify(files.get(file), null, 2) + "\n");
  }
  return changes;
}

export const describeChange = (c: PinChange): string => `${c.file}: ${c.pin}: ${c.from ?? "(none)"} -> ${c.to}`;
