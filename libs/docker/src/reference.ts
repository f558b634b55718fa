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
  if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(repository)) {
    throw new Error(`not a valid image repository: "${text}"`);
  }
  return { registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** A repository: where images are pushed under tags, e.g. `localhost:5000/opam-staging`, `ocaml/opam`. */
export interface Repository {
  /** host[:port] as used for the HTTP API (Docker Hub: registry-1.docker.io). */
  readonly registry: string;
  /** The path within the registry (Docker Hub's official images: `library/<name>`). */
  readonly path: string;
}

/** Reads a repository option; one line naming `what` when it is not one (a tag or digest is not). */
export function parseRepository(text: string, what: string): Repository {
  let ref: ImageReference;
  try {
    ref = parseReference(text);
  } catch {
    throw new Error(`${what}: "${text}" is not an image repository (like localhost:5000/opam-staging or ocaml/opam)`);
  }
  if (ref.tag !== undefined || ref.digest !== undefined) {
    throw new Error(`${what}: "${text}" names a ${ref.digest ? "digest" : "tag"}; give the repository alone`);
  }
  return { registry: ref.registry, path: ref.repository };
}

/** As docker writes a repository: without Docker Hub's host and `library/`. */
export const repositoryText = (repo: Repository): string => repositoryName({ registry: repo.registry, repository: repo.path });
/** `<repository>:<tag>`. */
export const tagIn = (repo: Repository, tag: string): string => `${repositoryText(repo)}:${tag}`;
/** `<repository>@<digest>`. */
export const digestIn = (repo: Repository, digest: string): string => `${repositoryText(repo)}@${digest}`;

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
