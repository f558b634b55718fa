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
