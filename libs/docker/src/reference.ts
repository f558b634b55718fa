/**
 * Image references: `[registry/]repository[:tag][@digest]`, with Docker Hub's
 * defaults (`ocaml/opam` is `registry-1.docker.io/ocaml/opam`, `alpine` is `library/alpine`).
 */
export interface ImageReference {
  /** host[:port] as used for the HTTP API. */
  readonly registry: string;
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

const DOCKER_HUB = "registry-1.docker.io";

/** Docker's grammar (distribution/reference): path components, a host with an optional port, a tag, a digest. */
const REPOSITORY_PATH = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const REGISTRY_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:]+\])(?::\d{1,5})?$/;
export const DOCKER_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
/** Docker refuses a name (registry and path) longer than this. */
const MAX_NAME_LENGTH = 255;

/** Whether `text` may be the tag of an image: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`. */
export const isDockerTag = (text: string): boolean => DOCKER_TAG.test(text);
export const DOCKER_TAG_RULE = "[A-Za-z0-9_][A-Za-z0-9_.-], at most 128 characters";

/** What a repository option or a base image must look like, for messages. */
export const REPOSITORY_RULE = "[registry[:port]/]path in lowercase, without tag or digest, e.g. ocaml/opam or localhost:5000/opam";

/**
 * Why `text` is not a repository (a reference without tag or digest, as the
 * staging and public repositories and a distro's base image are), or undefined if it is one.
 */
export function repositoryProblem(text: string): string | undefined {
  let ref: ImageReference;
  try {
    ref = parseReference(text);
  } catch {
    return `not an image repository (${REPOSITORY_RULE})`;
  }
  if (ref.tag !== undefined || ref.digest !== undefined) return `not an image repository: it has a tag or digest (${REPOSITORY_RULE})`;
  return undefined;
}

export function parseReference(text: string): ImageReference {
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf("/");
  const first = slash >= 0 ? rest.slice(0, slash) : "";
  const hasRegistry = slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost");
  const registry = hasRegistry ? first : DOCKER_HUB;
  let repository = hasRegistry ? rest.slice(slash + 1) : rest;
  if (!hasRegistry && !repository.includes("/")) repository = `library/${repository}`;
  if (!REPOSITORY_PATH.test(repository) || (hasRegistry && !REGISTRY_HOST.test(registry)) || text.length > MAX_NAME_LENGTH) {
    throw new Error(`not a valid image repository: "${text}"`);
  }
  if (tag !== undefined && !isDockerTag(tag)) throw new Error(`not a valid tag in "${text}": "${tag}"`);
  if (digest !== undefined && !DIGEST.test(digest)) throw new Error(`not a valid digest in "${text}": "${digest}"`);
  return { registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** A reference read from a record or a registry's answer, or undefined when it is not one (never throws). */
export function tryParseReference(text: string): ImageReference | undefined {
  try {
    return parseReference(text);
  } catch {
    return undefined;
  }
}

/** A repository: where images are pushed under tags, e.g. `localhost:5000/opam-staging`, `ocaml/opam`. */
export interface Repository {
  /** host[:port] as used for the HTTP API (Docker Hub: registry-1.docker.io). */
  readonly registry: string;
  /** The path within the registry (Docker Hub's official images: `library/<name>`). */
  readonly path: string;
}

/** Reads a repository option; one line naming `what` and quoting the value when it is not one (see repositoryProblem). */
export function parseRepository(text: string, what: string): Repository {
  const problem = repositoryProblem(text);
  if (problem) throw new Error(`${what}: "${text}" is ${problem}`);
  const ref = parseReference(text);
  return { registry: ref.registry, path: ref.repository };
}

/** As docker writes a repository: without Docker Hub's host and `library/`. */
export const repositoryText = (repo: Repository): string => repositoryName({ registry: repo.registry, repository: repo.path });
/** `<repository>:<tag>`. */
export const tagIn = (repo: Repository, tag: string): string => formatReference(tagRef(repo, tag));
/** `<repository>@<digest>`. */
export const digestIn = (repo: Repository, digest: string): string => formatReference(digestRef(repo, digest));

/** The repository a reference is in. */
export const repositoryOf = (ref: ImageReference): Repository => ({ registry: ref.registry, path: ref.repository });

/** The image under `tag` in a repository; refuses a tag docker would. */
export function tagRef(repo: Repository, tag: string): ImageReference {
  if (!isDockerTag(tag)) throw new Error(`not a valid tag for ${repositoryText(repo)}: "${tag}" (${DOCKER_TAG_RULE})`);
  return { registry: repo.registry, repository: repo.path, tag };
}

/** The image `digest` names in a repository; refuses what is not a digest. */
export function digestRef(repo: Repository, digest: string): ImageReference {
  if (!DIGEST.test(digest)) throw new Error(`not a valid digest for ${repositoryText(repo)}: "${digest}"`);
  return { registry: repo.registry, repository: repo.path, digest };
}

/** The same image, pinned: its repository and `digest`, without its tag. */
export const pinned = (ref: ImageReference, digest: string): ImageReference => digestRef(repositoryOf(ref), digest);

/** `[registry/]repository[:tag][@digest]`, as docker writes it; parseReference reads it back to the same value. */
export function formatReference(ref: ImageReference): string {
  return `${repositoryName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ""}${ref.digest !== undefined ? `@${ref.digest}` : ""}`;
}

/**
 * The staging tag that holds a build under its id (`build-<64 hex>`), whatever tag the
 * build also has: the one place that makes it, so a reader finds what a build pushed.
 */
export function buildIdTag(id: string): string {
  if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`not a build id: "${id}" (64 lowercase hex digits)`);
  return `build-${id}`;
}

/** A build's id tag as people read it in a line: its first 12 hex digits, as git shortens commits. */
export const shortBuildIdTag = (id: string): string => `build-${buildIdTag(id).slice(6, 18)}…`;

/** A build's id tag in its repository, as people read it (see shortBuildIdTag). */
export const shortBuildRef = (repo: Repository, id: string): string => `${repositoryText(repo)}:${shortBuildIdTag(id)}`;

/** The name without tag or digest, as docker writes it (`localhost:5000/opam-staging`). */
export function repositoryName(ref: ImageReference): string {
  if (ref.registry === DOCKER_HUB) return ref.repository.replace(/^library\//, "");
  return `${ref.registry}/${ref.repository}`;
}

/** Registries on this machine speak plain HTTP, as docker and buildx allow for loopback. */
export function isLoopback(registry: string): boolean {
  const host = registry.replace(/:\d+$/, "");
  return host === "localhost" || host.startsWith("127.") || host === "[::1]";
}
