/**
 * What an image says about itself, as OCI's pre-defined annotation keys
 * (`org.opencontainers.image.*`): labels on each image's config (set at build
 * time) and annotations on each manifest list we write. `created` and `revision`
 * go on the lists only: a label that changed with the clock or the workspace's
 * commit would make every build a new image.
 */

export const OCI_PREFIX = "org.opencontainers.image";

/** What describes an image whichever arch or commit it is built from. */
export interface ImageDescription {
  /** The image's name (the project's). */
  readonly title: string;
  readonly description: string;
  /** The OCaml version, for images that carry one compiler. */
  readonly version?: string;
  /** Where the images are made from (a repository URL). */
  readonly source: string;
  /** An SPDX expression. */
  readonly licenses: string;
  readonly vendor?: string;
  /** Where to read about the images. */
  readonly url?: string;
}

/** What one arch's image starts FROM: a parent we built, or the distro's base image. */
export interface ImageBase {
  /** A reference without digest: `registry/repo:tag`. */
  readonly name: string;
  readonly digest?: string;
}

const key = (name: string): string => `${OCI_PREFIX}.${name}`;

/** The description as annotation keys and values, in a fixed order; unset fields are left out. */
export function describedAs(description: ImageDescription): Record<string, string> {
  const fields: [string, string | undefined][] = [
    ["title", description.title],
    ["description", description.description],
    ["version", description.version],
    ["source", description.source],
    ["licenses", description.licenses],
    ["vendor", description.vendor],
    ["url", description.url],
  ];
  return Object.fromEntries(fields.filter((f): f is [string, string] => f[1] !== undefined && f[1] !== "").map(([k, v]) => [key(k), v]));
}

/** The base of an image as annotation keys (`base.name`, `base.digest`). */
export function baseAs(base: ImageBase | undefined): Record<string, string> {
  if (!base) return {};
  return { [key("base.name")]: base.name, ...(base.digest ? { [key("base.digest")]: base.digest } : {}) };
}

/** The labels a build gives its image's config. */
export const imageLabels = (description: ImageDescription, base?: ImageBase): Record<string, string> => ({ ...describedAs(description), ...baseAs(base) });

/** When and from which commit a list was written: on the list only. */
export interface ListStamp {
  /** RFC 3339. */
  readonly created: string;
  /** The workspace's commit, when it is a git checkout. */
  readonly revision?: string;
}

/** The annotations of a manifest list. */
export const listAnnotations = (description: ImageDescription, stamp: ListStamp): Record<string, string> => ({
  ...describedAs(description),
  [key("created")]: stamp.created,
  ...(stamp.revision ? { [key("revision")]: stamp.revision } : {}),
});

/** The annotations that say when and from what a list was written: not what it lists, so not compared. */
export const STAMP_KEYS: ReadonlySet<string> = new Set([key("created"), key("revision")]);

/** The base annotations an image's labels carry, for its entry in a list. */
export function baseOfLabels(labels: Readonly<Record<string, string>> | undefined): Record<string, string> {
  if (!labels) return {};
  return Object.fromEntries(Object.entries(labels).filter(([k]) => k === key("base.name") || k === key("base.digest")));
}
