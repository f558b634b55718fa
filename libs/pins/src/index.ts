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
}

export interface PinChange {
  readonly file: string;
  /** What the pin is, e.g. `opam 2.5` or `base debian:13`. */
  readonly pin: string;
  readonly from: string | undefined;
  readonly to: string;
}

type Json = Record<string, unknown>;

interface PinSite {
  readonly file: string;
  readonly pin: string;
  read(json: Json): string | undefined;
  write(json: Json, value: string): void;
  lookUp(upstream: Upstream, json: Json): Promise<string>;
}

/** Every pin of a valid matrix: the matrix is loaded first, so images/ is read the one way and every file is checked. */
function sites(root: string): PinSite[] {
  const matrix = loadMatrix(root);
  const list: PinSite[] = [];
  matrix.opam.builds.forEach((build, i) => {
    const entry = (json: Json) => (json.builds as Json[])[i] as Json;
    list.push({
      file: IMAGES_LAYOUT.opam,
      pin: `opam ${build.branch}`,
      read: (json) => entry(json).commit as string | undefined,
      write: (json, value) => (entry(json).commit = value),
      lookUp: (upstream, json) => upstream.branchHead(json.url as string, entry(json).branch as string),
    });
  });
  list.push({
    file: IMAGES_LAYOUT.opamRepository,
    pin: "opam-repository",
    read: (json) => json.commit as string | undefined,
    write: (json, value) => (json.commit = value),
    lookUp: (upstream, json) => upstream.branchHead(json.url as string, json.branch as string),
  });
  // A deprecated distro is built nowhere: its base is history, not a pin to move.
  for (const distro of matrix.distros.filter((d) => d.status !== "deprecated")) {
    list.push({
      file: distro.file,
      pin: `base ${distro.base.image}:${distro.base.tag}`,
      read: (j) => (j.base as Json).digest as string | undefined,
      write: (j, value) => ((j.base as Json).digest = value),
      lookUp: (upstream, j) => upstream.imageDigest((j.base as Json).image as string, (j.base as Json).tag as string),
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
    const latest = await site.lookUp(upstream, json);
    if (current === latest) continue;
    changes.push({ file: site.file, pin: site.pin, from: current, to: latest });
    site.write(json, latest);
    touched.add(site.file);
  }
  if (opts.write) {
    for (const file of touched) writeFileSync(join(root, file), JSON.stringify(files.get(file), null, 2) + "\n");
  }
  return changes;
}

export const describeChange = (c: PinChange): string => `${c.file}: ${c.pin}: ${c.from ?? "(none)"} -> ${c.to}`;
