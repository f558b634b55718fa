/**
 * A small client for the OCI distribution API (what docker pushes to):
 * read and write manifests by tag or digest, with basic or token auth and
 * retries on failures that may pass, bounded in tries and time (RetryPolicy).
 * Credentials stay in memory.
 */
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { baseOfLabels } from "./annotations";
import { isLoopback, parseReference, type ImageReference } from "./reference";

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export const MANIFEST_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
] as const;

export interface Manifest {
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Buffer;
}

export interface PlatformEntry {
  readonly digest: string;
  readonly platform?: { readonly os: string; readonly architecture: string; readonly variant?: string };
}

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "RegistryError";
  }
}

/**
 * How hard to try a registry request that fails for a reason that may pass (a
 * network error, no answer in time, HTTP 5xx or 429): bounded both in tries and
 * in time, waiting longer each time, and as long as `Retry-After` asks when that
 * fits in the bound.
 */
export interface RetryPolicy {
  /** Tries of one request in all, the first included. */
  readonly attempts: number;
  /** No try starts later than this after the first (ms): a wait that would end later gives up instead. */
  readonly withinMs: number;
  /** The first wait (ms); each next one doubles, up to maxDelayMs. */
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
  /** How long one request may take to answer and send its body (ms). */
  readonly requestTimeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, withinMs: 120_000, firstDelayMs: 500, maxDelayMs: 15_000, requestTimeoutMs: 60_000 };

/** The wait before try `next` (2, 3, …): doubling from the first, capped; Retry-After when it asks for longer. */
export function retryDelay(policy: RetryPolicy, next: number, retryAfterMs?: number): number {
  const backoff = Math.min(policy.firstDelayMs * 2 ** (next - 2), policy.maxDelayMs);
  return retryAfterMs !== undefined ? Math.max(backoff, retryAfterMs) : backoff;
}

/** Retry-After as milliseconds: seconds, or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export interface RegistryClientOptions {
  readonly credentials?: (registry: string) => Credentials | undefined;
  readonly retry?: RetryPolicy;
  /** Told each retry, one line saying what failed and what is tried again (for the task's log). */
  readonly onRetry?: (line: string) => void;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** A failure that may pass: the request is worth another try. */
class TransientFailure extends Error {
  constructor(
    readonly reason: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(reason);
  }
}

/** A request body; a function makes a fresh stream for each attempt (retries, a re-sent request after a 401). */
export type RequestBody = Buffer | (() => Readable);

/** The algorithms a digest may name that this client can check. */
const ALGORITHMS = new Set(["sha256", "sha384", "sha512"]);

/** The digest of `bytes` with the algorithm `like` names (sha256 when none). */
export function digestOf(bytes: Buffer, like?: string): string {
  const algorithm = like ? algorithmOf(like) : "sha256";
  return `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}`;
}

/** A digest's algorithm, refused unless this client can check it. */
function algorithmOf(digest: string): string {
  const algorithm = digest.slice(0, Math.max(0, digest.indexOf(":")));
  if (!ALGORITHMS.has(algorithm)) throw new RegistryError(`cannot check a digest of algorithm "${algorithm}" (${digest}); only ${[...ALGORITHMS].join(", ")}`);
  return algorithm;
}

/** Content whose digest is not the one asked for or announced: a registry or a proxy on the way changed it. */
export class DigestMismatch extends RegistryError {
  constructor(
    readonly registry: string,
    readonly reference: string,
    /** What the digest should be: asked for, announced, or of the bytes sent. */
    readonly expected: string,
    /** What it is: of the bytes answered, or as announced for the bytes sent. */
    readonly actual: string,
    readonly kind: "asked for" | "announced" | "stored",
  ) {
    const why =
      kind === "asked for"
        ? `content whose digest is ${actual}, not the ${expected} asked for`
        : kind === "announced"
          ? `content whose digest is ${actual}, though its Docker-Content-Digest says ${expected}`
          : `a Docker-Content-Digest of ${actual} for content whose digest is ${expected}`;
    super(`${registry} answered ${reference} with ${why}; refused (the registry, or something between it and us, is not serving what was stored)`);
    this.name = "DigestMismatch";
  }
}

/**
 * The digest of content read from a registry, checked: the bytes must hash to the digest
 * asked for and to the one the registry's header announces. Returns that digest.
 */
function verifiedDigest(ref: ImageReference, bytes: Buffer, asked: string | undefined, header: string | null): string {
  for (const [expected, kind] of [[asked, "asked for"], [header, "announced"]] as const) {
    if (!expected) continue;
    const actual = digestOf(bytes, expected);
    if (actual !== expected) throw new DigestMismatch(ref.registry, describe(ref), expected, actual, kind);
  }
  return asked ?? digestOf(bytes, header ?? undefined);
}

/** An image's platform as its config says it. */
export interface ImagePlatform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  readonly "os.version"?: string;
  readonly "os.features"?: readonly string[];
}

/** `os/architecture[/variant]`, as docker writes a platform. */
export const platformText = (p: Pick<ImagePlatform, "os" | "architecture" | "variant">): string =>
  `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;

/**
 * Whether an image's platform is the planned one (`linux/arm64`, `windows/amd64`):
 * os and architecture equal, and the variant when the plan names one.
 */
export function samePlatform(image: Pick<ImagePlatform, "os" | "architecture" | "variant">, planned: string): boolean {
  const [os, architecture, variant] = planned.split("/");
  return image.os === os && image.architecture === architecture && (variant === undefined || image.variant === variant);
}

/** A descriptor in an index. */
interface Descriptor {
  readonly mediaType?: string;
  readonly digest: string;
  readonly size?: number;
  readonly platform?: { readonly os?: string; readonly architecture?: string };
  readonly annotations?: Readonly<Record<string, string>>;
  /** Where a foreign (Windows base) layer is fetched from instead. */
  readonly urls?: readonly string[];
}

/** BuildKit's annotations on an attestation manifest's entry: which image it is about, and that it is an attestation. */
export const REFERENCE_DIGEST = "vnd.docker.reference.digest";
export const REFERENCE_TYPE = "vnd.docker.reference.type";
export const ATTESTATION_MANIFEST = "attestation-manifest";

const isAttestation = (d: Descriptor): boolean => d.annotations?.[REFERENCE_TYPE] === ATTESTATION_MANIFEST;

/** An attestation manifest, with its entry's annotations. */
export interface Attestation {
  readonly manifest: Manifest;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** A built image, as a reference names it: alone, or in BuildKit's index with its attestations. */
export interface BuiltImage {
  /** What the reference names: the image, or the index of it and its attestations. */
  readonly top: Manifest;
  /** The image manifest. */
  readonly manifest: Manifest;
  /** Its config's digest. */
  readonly config: string;
  readonly platform: ImagePlatform;
  /** Its config's labels. */
  readonly labels: Readonly<Record<string, string>>;
  readonly attestations: readonly Attestation[];
}

/** One image of a manifest list to write: by digest, with the platform the plan built it for. */
export interface ListEntry {
  /** The image, by digest, in any repository of the same or another registry. */
  readonly source: ImageReference;
  /** The planned platform, `os/arch[/variant]`: the image's config must say the same. */
  readonly platform: string;
  /** A Windows image's version when its config carries none (the plan's); Windows hosts choose by it. */
  readonly osVersion?: string;
}

export class RegistryClient {
  private readonly tokens = new Map<string, string>();
  private readonly retry: RetryPolicy;
  private readonly fetchFn: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: RegistryClientOptions = {}) {
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.fetchFn = options.fetch ?? fetch;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** The manifest a reference names, or undefined if the registry has none. */
  async getManifest(reference: string | ImageReference): Promise<Manifest | undefined> {
    const ref = typeof reference === "string" ? parseReference(reference) : reference;
    const what = `read ${describe(ref)}`;
    return this.retrying(what, ref, async () => {
      const response = await this.request(ref, "GET", manifestPath(ref), { Accept: MANIFEST_TYPES.join(", ") });
      if (response.status === 404) return undefined;
      await expectOk(response, what);
      const bytes = await bodyOf(response);
      const digest = verifiedDigest(ref, bytes, ref.digest, response.headers.get("docker-content-digest"));
      return { digest, mediaType: mediaTypeOf(response, bytes), bytes };
    });
  }

  /** Stores a manifest under a tag (or its digest) in a repository of the same registry. */
  async putManifest(reference: string | ImageReference, manifest: Pick<Manifest, "mediaType" | "bytes">): Promise<string> {
    const ref = typeof reference === "string" ? parseReference(reference) : reference;
    const what = `write ${describe(ref)}`;
    return this.retrying(what, ref, async () => {
      const response = await this.request(ref, "PUT", manifestPath(ref), { "Content-Type": manifest.mediaType }, manifest.bytes);
      await expectOk(response, what);
      await bodyOf(response);
      // What we sent is what is stored: the digest the registry announces must be that of our bytes.
      const sent = ref.digest ?? digestOf(manifest.bytes);
      const header = response.headers.get("docker-content-digest");
      if (header && header !== digestOf(manifest.bytes, header)) throw new DigestMismatch(ref.registry, describe(ref), digestOf(manifest.bytes, header), header, "stored");
      return sent;
    });
  }

  /** The per-platform entries of an index, or one entry without platform for a single image. */
  async platforms(reference: string): Promise<PlatformEntry[] | undefined> {
    const manifest = await this.getManifest(reference);
    if (!manifest) return undefined;
    const json = JSON.parse(manifest.bytes.toString("utf8")) as { manifests?: PlatformEntry[] };
    return json.manifests ?? [{ digest: manifest.digest }];
  }

  /** Deletes the manifest a tag or digest names (every tag of that digest goes with it); false when there is none. */
  async deleteManifest(reference: string | ImageReference): Promise<boolean> {
    const ref = typeof reference === "string" ? parseReference(reference) : reference;
    const manifest = ref.digest ? { digest: ref.digest } : await this.getManifest(ref);
    if (!manifest) return false;
    const what = `delete ${describe(ref)}`;
    return this.retrying(what, ref, async () => {
      const response = await this.request(ref, "DELETE", manifestPath({ ...ref, digest: manifest.digest }), {});
      if (response.status === 404) return false;
      await expectOk(response, what);
      await bodyOf(response);
      return true;
    });
  }

  /** Every tag of a repository (`registry/repo`), following the registry's pages. */
  async listTags(repository: string | ImageReference): Promise<string[]> {
    const ref = typeof repository === "string" ? parseReference(`${repository}:x`) : repository;
    const what = `list the tags of ${ref.registry}/${ref.repository}`;
    const tags: string[] = [];
    let path: string | undefined = `/v2/${ref.repository}/tags/list?n=1000`;
    while (path) {
      const page: string = path;
      const { names, next } = await this.retrying(what, ref, async () => {
        const response = await this.request(ref, "GET", page, { Accept: "application/json" });
        if (response.status === 404) return { names: [] as string[], next: undefined };
        await expectOk(response, what);
        const json = JSON.parse((await bodyOf(response)).toString("utf8")) as { tags?: string[] | null };
        // RFC 5988 Link header: `</v2/…/tags/list?n=1000&last=x>; rel="next"`.
        const link = /<([^>]+)>;\s*rel="next"/.exec(response.headers.get("link") ?? "")?.[1];
        return { names: json.tags ?? [], next: link };
      });
      tags.push(...names);
      path = next;
    }
    return tags;
  }

  /** Whether the reference's repository holds a blob. */
  async hasBlob(repository: string | ImageReference, digest: string): Promise<boolean> {
    const ref = typeof repository === "string" ? parseReference(repository) : repository;
    const what = `look up blob ${digest} in ${describe(ref)}`;
    return this.retrying(what, ref, async () => {
      const response = await this.request(ref, "HEAD", blobPath(ref, digest), {});
      if (response.status === 404) return false;
      await expectOk(response, what);
      return true;
    });
  }

  /**
   * What of the image `reference` names its repository does not hold: the blobs
   * (config and layers) of the image and, when it names BuildKit's index, of every
   * manifest the index lists (the image's and its attestations', each fetched by
   * digest; a listed manifest the registry lacks is named itself). Undefined when
   * the manifest `reference` names is missing. A registry can lose blobs under a
   * manifest (garbage collection, a deleted layer): such an image cannot be
   * pulled, built FROM or published.
   */
  async missingBlobs(reference: string | ImageReference): Promise<string[] | undefined> {
    const ref = typeof reference === "string" ? parseReference(reference) : reference;
    const top = await this.getManifest(ref);
    if (!top) return undefined;
    return this.missingUnder(ref, [top], 0);
  }

  /**
   * The same for an image imagePlatform has read (its manifests in hand): only its
   * blobs are asked about, no manifest is fetched again.
   */
  async missingBlobsOf(reference: string | ImageReference, image: BuiltImage): Promise<string[]> {
    const ref = typeof reference === "string" ? parseReference(reference) : reference;
    return this.missingUnder(ref, [image.manifest, ...image.attestations.map((a) => a.manifest)], LISTS_DEEP);
  }

  /** The digests under `manifests` the repository lacks, in their order: indexes are followed `LISTS_DEEP - depth` levels down. */
  private async missingUnder(ref: ImageReference, manifests: readonly Manifest[], depth: number): Promise<string[]> {
    const byDigest = { ...ref, tag: undefined };
    // Each manifest's own list: its blobs to ask about, or (an index) its manifests, read by digest.
    const parts = await Promise.all(
      manifests.map(async (manifest): Promise<{ blobs: string[] } | { gone: string[]; under: string[] }> => {
        const json = JSON.parse(manifest.bytes.toString("utf8")) as { config?: { digest: string }; layers?: Descriptor[]; manifests?: Descriptor[] };
        if (!json.manifests) {
          // Windows base layers are foreign (nondistributable): the registry never holds them.
          const layers = (json.layers ?? []).filter((l) => !l.urls && !/foreign|nondistributable/.test(l.mediaType ?? ""));
          return { blobs: [...(json.config ? [json.config.digest] : []), ...layers.map((l) => l.digest)] };
        }
        if (depth >= LISTS_DEEP) throw new RegistryError(`${describe(ref)}: ${manifest.digest} lists manifests more than ${LISTS_DEEP} levels deep`);
        const listed = await Promise.all(json.manifests.map(async (d) => ({ digest: d.digest, manifest: await this.getManifest({ ...byDigest, digest: d.digest }) })));
        const held = listed.flatMap((l) => (l.manifest ? [l.manifest] : []));
        const under = await this.missingUnder(ref, held, depth + 1);
        return { gone: listed.filter((l) => !l.manifest).map((l) => l.digest), under };
      }),
    );
    // A blob can repeat (an empty layer, across images): each distinct one is asked about once, several at a time:
    // one by one, an opam image's forty blobs cost a quarter of a second per build.
    const blobs = [...new Set(parts.flatMap((p) => ("blobs" in p ? p.blobs : [])))];
    const held = new Array<boolean>(blobs.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < blobs.length; i = next++) held[i] = await this.hasBlob(ref, blobs[i] as string);
    };
    await Promise.all(Array.from({ length: Math.min(BLOB_CHECKS_AT_ONCE, blobs.length) }, worker));
    const lacking = new Set(blobs.filter((_, i) => !held[i]));
    return [...new Set(parts.flatMap((p) => ("blobs" in p ? p.blobs.filter((b) => lacking.has(b)) : [...p.gone, ...p.under])))];
  }

  /**
   * A blob's bytes as they arrive, or undefined when the repository has none. The
   * body is checked as it passes: reading it fails at its end when its bytes are not
   * the blob asked for (a DigestMismatch), so a consumer must finish reading before trusting it.
   */
  async getBlob(repository: string | ImageReference, digest: string): Promise<Response | undefined> {
    const ref = typeof repository === "string" ? parseReference(repository) : repository;
    const what = `read blob ${digest} of ${describe(ref)}`;
    const named = `${describe(ref)}@${digest} (a blob)`;
    // Retried until the body starts; a failure while the caller reads it is the caller's.
    return this.retrying(what, ref, async () => {
      const response = await this.request(ref, "GET", blobPath(ref, digest), {}, undefined, { streaming: true });
      if (response.status === 404) return undefined;
      await expectOk(response, what);
      const header = response.headers.get("docker-content-digest");
      if (header && header !== digest) throw new DigestMismatch(ref.registry, named, digest, header, "asked for");
      const hash = createHash(algorithmOf(digest));
      const checked = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          hash.update(chunk);
          controller.enqueue(chunk);
        },
        flush() {
          const actual = `${algorithmOf(digest)}:${hash.digest("hex")}`;
          if (actual !== digest) throw new DigestMismatch(ref.registry, named, digest, actual, "asked for");
        },
      });
      return new Response(response.body?.pipeThrough(checked) ?? null, { status: response.status, statusText: response.statusText, headers: response.headers });
    });
  }

  /** A blob's bytes, checked against its digest; undefined when the repository has none. */
  async readBlob(repository: string | ImageReference, digest: string): Promise<Buffer | undefined> {
    const ref = typeof repository === "string" ? parseReference(repository) : repository;
    const what = `read blob ${digest} of ${describe(ref)}`;
    return this.retrying(what, ref, async () => {
      const response = await this.request(ref, "GET", blobPath(ref, digest), {});
      if (response.status === 404) return undefined;
      await expectOk(response, what);
      const bytes = await bodyOf(response);
      verifiedDigest({ ...ref, digest }, bytes, digest, response.headers.get("docker-content-digest"));
      return bytes;
    });
  }

  /**
   * What an image's config says of its platform: the image is read by digest and its
   * config blob too, both checked. The reference may name a single image, or what
   * BuildKit pushes with attestations: an index of one image and the attestation
   * manifests that refer to it (platform unknown/unknown, `vnd.docker.reference.*`
   * annotations). Refuses anything else.
   */
  async imagePlatform(image: string | ImageReference): Promise<BuiltImage | undefined> {
    const ref = typeof image === "string" ? parseReference(image) : image;
    const top = await this.getManifest(ref);
    if (!top) return undefined;
    const json = JSON.parse(top.bytes.toString("utf8")) as { config?: { digest?: string }; manifests?: Descriptor[] };
    let manifest = top;
    const attestations: Attestation[] = [];
    if (json.manifests) {
      const images = json.manifests.filter((d) => !isAttestation(d));
      const only = images[0];
      if (images.length !== 1 || !only) throw new RegistryError(`${describe(ref)} is not a single image (an index of ${images.length} images)`);
      const at = { ...ref, tag: undefined };
      const read = await this.getManifest({ ...at, digest: only.digest });
      if (!read) throw new RegistryError(`${describe(ref)} names ${only.digest}, which ${ref.registry} does not hold`);
      manifest = read;
      for (const d of json.manifests.filter(isAttestation)) {
        if (d.annotations?.[REFERENCE_DIGEST] !== only.digest) throw new RegistryError(`${describe(ref)}: an attestation (${d.digest}) refers to ${d.annotations?.[REFERENCE_DIGEST] ?? "nothing"}, not to its image ${only.digest}`);
        const bytes = await this.getManifest({ ...at, digest: d.digest });
        if (!bytes) throw new RegistryError(`${describe(ref)} names the attestation ${d.digest}, which ${ref.registry} does not hold`);
        attestations.push({ manifest: bytes, annotations: d.annotations });
      }
    }
    const imageJson = json.manifests ? (JSON.parse(manifest.bytes.toString("utf8")) as { config?: { digest?: string }; manifests?: unknown }) : json;
    if (!imageJson.config?.digest || imageJson.manifests) throw new RegistryError(`${describe(ref)} is not a single image`);
    const blob = await this.readBlob(ref, imageJson.config.digest);
    if (!blob) throw new RegistryError(`the config ${imageJson.config.digest} of ${describe(ref)} is not in ${ref.registry}`);
    const config = JSON.parse(blob.toString("utf8")) as Partial<ImagePlatform> & { config?: { Labels?: Record<string, string> | null } };
    const platform: ImagePlatform = {
      os: config.os ?? "unknown",
      architecture: config.architecture ?? "unknown",
      ...(config.variant ? { variant: config.variant } : {}),
      ...(config["os.version"] ? { "os.version": config["os.version"] } : {}),
      ...(config["os.features"]?.length ? { "os.features": config["os.features"] } : {}),
    };
    return { top, manifest, config: imageJson.config.digest, platform, labels: config.config?.Labels ?? {}, attestations };
  }

  /**
   * Makes `tag` a manifest list of the images `entries` name by digest (in any
   * repository), so that the tag only ever moves to a whole list, written once:
   * each image's blobs are mounted (or copied) into the tag's repository and the
   * image is stored there by digest first, and the list is written under the tag
   * last. (`docker buildx imagetools create` writes each image under the tag itself
   * before the list, so a failure or a kill midway leaves the tag on one arch.)
   *
   * Each entry's platform is its image's config's, and must be the planned one, one
   * entry per planned platform; a Windows entry carries its config's `os.version` and
   * `os.features` (else the plan's version): Windows hosts choose an entry by them.
   * Returns the list's digest and the platform of each entry.
   */
  async putManifestList(
    tag: string | ImageReference,
    entries: readonly ListEntry[],
    annotations: Readonly<Record<string, string>> = {},
  ): Promise<{ digest: string; platforms: ImagePlatform[] }> {
    const target = typeof tag === "string" ? parseReference(tag) : tag;
    const named = describe(target);
    if (!target.tag || target.digest) throw new RegistryError(`${named} is not a tag`);
    // One entry per platform; Windows entries differ by os.version too (a host picks the one matching its kernel).
    const keyOf = (platform: string, osVersion: string | undefined) => `${platform}${osVersion ? ` (os.version ${osVersion})` : ""}`;
    const planned = entries.map((e) => keyOf(e.platform, e.osVersion));
    const twice = planned.find((p, i) => planned.indexOf(p) !== i);
    if (twice) throw new RegistryError(`${named}: the list would name ${twice} twice (${planned.join(", ")})`);
    const listed: Record<string, unknown>[] = [];
    const images: Manifest[] = [];
    const platforms: ImagePlatform[] = [];
    let listType: string = MANIFEST_TYPES[0];
    for (const entry of entries) {
      const from = entry.source;
      if (!from.digest) throw new RegistryError(`${describe(from)} is not named by digest`);
      const read = await this.imagePlatform(from);
      if (!read) throw new RegistryError(`${describe(from)} is not in ${from.registry}`);
      const { manifest: image, config, attestations } = read;
      let platform = read.platform;
      if (!samePlatform(platform, entry.platform)) {
        throw new RegistryError(
          `${named}: ${describe(from)} is a ${platformText(platform)} image (its config ${config} says so), not the ${entry.platform} image the plan lists there`,
        );
      }
      if (platform.os === "windows" && !platform["os.version"]) {
        // An image built on Windows inherits its base's version; BuildKit on Linux leaves it out.
        if (!entry.osVersion) throw new RegistryError(`${named}: the Windows image ${describe(from)} has no os.version in its config and the plan knows none; Windows hosts choose an image by it`);
        platform = { ...platform, "os.version": entry.osVersion };
      }
      for (const m of [image, ...attestations.map((a) => a.manifest)]) {
        const parts = JSON.parse(m.bytes.toString("utf8")) as { config?: { digest: string }; layers?: { digest: string }[] };
        for (const blob of [parts.config?.digest ?? config, ...(parts.layers ?? []).map((l) => l.digest)]) await this.copyBlob(from, target, blob);
        await this.putManifest({ registry: target.registry, repository: target.repository, digest: m.digest }, m);
        images.push(m);
      }
      platforms.push(platform);
      if (image.mediaType === MANIFEST_TYPES[3]) listType = MANIFEST_TYPES[1];
      listed.push({
        mediaType: image.mediaType,
        digest: image.digest,
        size: image.bytes.length,
        platform: {
          architecture: platform.architecture,
          os: platform.os,
          ...(platform.variant ? { variant: platform.variant } : {}),
          ...(platform.os === "windows" && platform["os.version"] ? { "os.version": platform["os.version"] } : {}),
          ...(platform.os === "windows" && platform["os.features"] ? { "os.features": platform["os.features"] } : {}),
        },
        // What the image starts FROM, as its labels say (it differs by arch, so it is the entry's, not the list's).
        ...(Object.keys(baseOfLabels(read.labels)).length > 0 ? { annotations: baseOfLabels(read.labels) } : {}),
      });
      // Each attestation stays beside its image, as BuildKit wrote it, so `imagetools inspect` finds it.
      for (const a of attestations) {
        listed.push({
          mediaType: a.manifest.mediaType,
          digest: a.manifest.digest,
          size: a.manifest.bytes.length,
          platform: { architecture: "unknown", os: "unknown" },
          ...(a.annotations ? { annotations: a.annotations } : {}),
        });
      }
    }
    const resolved = platforms.map((p) => keyOf(platformText(p), p.os === "windows" ? p["os.version"] : undefined));
    const again = resolved.find((p, i) => resolved.indexOf(p) !== i);
    if (again) throw new RegistryError(`${named}: the list would name ${again} twice, as the images' configs say (${resolved.join(", ")})`);
    // Annotations and attestations need an OCI index (a Docker manifest list has neither).
    const hasAnnotations = Object.keys(annotations).length > 0 || listed.some((e) => e.annotations !== undefined);
    if (hasAnnotations) listType = MANIFEST_TYPES[0];
    const bytes = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: listType, manifests: listed, ...(Object.keys(annotations).length > 0 ? { annotations } : {}) }, null, 2),
    );
    // Another run storing the same images at the same moment can make the registry briefly call one
    // of them unknown (MANIFEST_BLOB_UNKNOWN): store them again and write the list again, a few times.
    for (let attempt = 1; ; attempt++) {
      try {
        return { digest: await this.putManifest(target, { mediaType: listType, bytes }), platforms };
      } catch (e) {
        if (!(e instanceof RegistryError && e.status === 400 && e.message.includes("MANIFEST_BLOB_UNKNOWN")) || attempt >= 3) throw e;
        await this.sleep(200 * attempt);
        for (const image of images) await this.putManifest({ registry: target.registry, repository: target.repository, digest: image.digest }, image);
      }
    }
  }

  /** Makes a blob of one repository available in another: mounted within a registry, else copied. */
  async copyBlob(from: ImageReference, to: ImageReference, digest: string): Promise<void> {
    if (await this.hasBlob(to, digest)) return;
    if (from.registry === to.registry) {
      const what = `mount blob ${digest} from ${from.repository} into ${describe(to)}`;
      const mounted = await this.retrying(what, to, async () => {
        const query = `mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from.repository)}`;
        const response = await this.request(to, "POST", `/v2/${to.repository}/blobs/uploads/?${query}`, {});
        await expectOk(response, what);
        await bodyOf(response);
        // 201: mounted. 202: the registry started an upload instead (it would not mount); left to expire.
        return response.status === 201;
      });
      if (mounted) return;
    }
    // Buffered (and checked), so a retried upload sends the same bytes; registries that mount (the usual case) never get here.
    const bytes = await this.readBlob(from, digest);
    if (!bytes) throw new RegistryError(`blob ${digest} is not in ${describe(from)}`);
    await this.pushBlob(to, digest, bytes);
  }

  /** Uploads a blob in one request unless the repository holds it already. */
  async pushBlob(repository: string | ImageReference, digest: string, body: RequestBody): Promise<void> {
    const ref = typeof repository === "string" ? parseReference(repository) : repository;
    if (await this.hasBlob(ref, digest)) return;
    const what = `upload blob ${digest} to ${describe(ref)}`;
    // The upload is tried again whole: a session the registry started may not survive the failure.
    await this.retrying(what, ref, async () => {
      const started = await this.request(ref, "POST", `/v2/${ref.repository}/blobs/uploads/`, {});
      await expectOk(started, `start a blob upload to ${describe(ref)}`);
      await bodyOf(started);
      const location = started.headers.get("location");
      if (!location) throw new RegistryError(`${ref.registry} started an upload without a Location`);
      const target = new URL(location, this.origin(ref));
      target.searchParams.set("digest", digest);
      const put = await this.request(ref, "PUT", target.href, { "Content-Type": "application/octet-stream" }, body);
      await expectOk(put, what);
      await bodyOf(put);
    });
  }

  private origin(ref: ImageReference): string {
    return `${isLoopback(ref.registry) ? "http" : "https"}://${ref.registry}`;
  }

  /**
   * Runs one try of an operation again while it fails for a reason that may
   * pass, within the retry policy, saying each retry; then gives up naming the
   * registry, what was tried, and how often.
   */
  private async retrying<T>(what: string, ref: ImageReference, attempt: () => Promise<T>): Promise<T> {
    const policy = this.retry;
    const started = Date.now();
    for (let tries = 1; ; tries++) {
      try {
        return await attempt();
      } catch (e) {
        if (!(e instanceof TransientFailure)) throw e;
        const wait = retryDelay(policy, tries + 1, e.retryAfterMs);
        const elapsed = Date.now() - started;
        const gaveUp = (why: string) =>
          new RegistryError(`cannot ${what}: ${e.reason}; gave up after ${tries} ${tries === 1 ? "try" : "tries"} in ${seconds(elapsed)}${why}`, e.status);
        if (tries >= policy.attempts) throw gaveUp("");
        if (elapsed + wait > policy.withinMs) {
          throw gaveUp(e.retryAfterMs !== undefined && e.retryAfterMs === wait ? ` (it asked to wait ${seconds(wait)}, beyond the ${seconds(policy.withinMs)} bound)` : ` (the bound is ${seconds(policy.withinMs)})`);
        }
        this.options.onRetry?.(`${ref.registry}: ${what}: ${e.reason}; retrying in ${seconds(wait)} (try ${tries + 1} of ${policy.attempts})`);
        await this.sleep(wait);
      }
    }
  }

  /**
   * One try of a request, answering an auth challenge (a first 401, or a 401 on a
   * token that expired) by authenticating and sending it again once. A network
   * error, no answer in time, 5xx or 429 is a TransientFailure; any other answer
   * is returned. With `streaming`, the time limit covers the answer, not the body.
   */
  private async request(
    ref: ImageReference,
    method: string,
    /** A path on the registry, or a whole URL it gave (an upload's Location). */
    path: string,
    headers: Record<string, string>,
    body?: RequestBody,
    { streaming = false }: { streaming?: boolean } = {},
  ): Promise<Response> {
    const url = new URL(path, this.origin(ref));
    const action = method === "GET" || method === "HEAD" ? "pull" : method === "DELETE" ? "delete" : "pull,push";
    const scope = `repository:${ref.repository}:${action}`;
    // Credentials go to the registry only, not to a host an upload location points elsewhere.
    const auth = () => (url.host === ref.registry ? this.authHeader(ref.registry, scope) : {});
    const limit = this.retry.requestTimeoutMs;
    const send = async () => {
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(new Error(`no answer within ${seconds(limit)}`)), limit);
      try {
        const response = await this.fetchFn(url.href, { method, headers: { ...headers, ...auth() }, signal: abort.signal, ...requestBody(body) });
        if (streaming) clearTimeout(timer);
        else {
          // The body is read under the same time limit: buffered here, handed on whole.
          const bytes = await response.arrayBuffer();
          clearTimeout(timer);
          return new Response(method === "HEAD" || [204, 205, 304].includes(response.status) ? null : bytes, {
            status: response.status,
            statusText: response.statusText,
            headers: response.headers,
          });
        }
        return response;
      } catch (e) {
        clearTimeout(timer);
        throw new TransientFailure(networkReason(e, abort.signal));
      }
    };
    let response = await send();
    // A 401 is answered by logging in and sending again: once for the first challenge, once more when the
    // credentials just obtained are refused too (a token that expired in between); a third 401 stands.
    for (let logins = 0; response.status === 401 && logins < 2; logins++) {
      const refused = response;
      const bytes = await refused.arrayBuffer();
      // Answered again with credentials when there are any for this registry; else the 401 stands, body and all.
      response = (await this.authenticate(ref.registry, scope, refused.headers.get("www-authenticate")))
        ? await send()
        : new Response(bytes, { status: refused.status, statusText: refused.statusText, headers: refused.headers });
      if (response.status === 401 && !Object.keys(auth()).length) break;
    }
    if (response.status >= 500 || response.status === 429) {
      await response.arrayBuffer().catch(() => undefined);
      throw new TransientFailure(`HTTP ${response.status}`, response.status, parseRetryAfter(response.headers.get("retry-after")));
    }
    return response;
  }

  private authHeader(registry: string, scope: string): Record<string, string> {
    const token = this.tokens.get(`${registry} ${scope}`) ?? this.tokens.get(registry);
    return token ? { Authorization: token } : {};
  }

  /** Answers a 401 challenge: Basic with the credentials, or Bearer through the token service. */
  private async authenticate(registry: string, scope: string, challenge: string | null): Promise<boolean> {
    const creds = this.options.credentials?.(registry);
    if (!challenge) return false;
    if (/^basic/i.test(challenge)) {
      if (!creds) return false;
      this.tokens.set(registry, `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`);
      return true;
    }
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!params.realm) return false;
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set("service", params.service);
    url.searchParams.set("scope", scope);
    let response: Response;
    try {
      response = await this.fetchFn(url, {
        headers: creds ? { Authorization: `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}` } : {},
        signal: AbortSignal.timeout(this.retry.requestTimeoutMs),
      });
    } catch (e) {
      throw new TransientFailure(`the token service ${url.host}: ${(e as Error).message}`);
    }
    if (response.status >= 500 || response.status === 429) {
      throw new TransientFailure(`the token service ${url.host}: HTTP ${response.status}`, response.status, parseRetryAfter(response.headers.get("retry-after")));
    }
    if (!response.ok) throw new RegistryError(`${registry}: authentication failed (${response.status})`, response.status);
    const json = (await response.json()) as { token?: string; access_token?: string };
    const token = json.token ?? json.access_token;
    if (!token) return false;
    this.tokens.set(`${registry} ${scope}`, `Bearer ${token}`);
    return true;
  }
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

/** Why a request failed on the network, in words (undici hides the cause: a reset, a refusal, a timeout). */
function networkReason(e: unknown, signal: AbortSignal): string {
  if (signal.aborted) return (signal.reason as Error | undefined)?.message ?? "aborted";
  const error = e as Error & { cause?: { code?: string; message?: string } };
  const cause = error.cause?.code ?? error.cause?.message;
  return `${error.message}${cause ? ` (${cause})` : ""}`;
}

/** A response's bytes; a failure while they arrive (a reset mid-body) may pass. */
async function bodyOf(response: Response): Promise<Buffer> {
  try {
    return Buffer.from(await response.arrayBuffer());
  } catch (e) {
    if (e instanceof RegistryError) throw e;
    throw new TransientFailure(`the answer broke off: ${(e as Error).message}`);
  }
}

/** Fetch options for a body; a stream needs `duplex: "half"` (Node's fetch), which its RequestInit type lacks. */
function requestBody(body: RequestBody | undefined): RequestInit {
  if (body === undefined) return {};
  if (Buffer.isBuffer(body)) return { body };
  return { body: body() as unknown as ReadableStream, duplex: "half" } as RequestInit;
}

/** How many blob look-ups one missingBlobs call keeps in flight: enough to hide loopback latency, few enough for any registry. */
const BLOB_CHECKS_AT_ONCE = 8;
/** How deep missingBlobs follows indexes: a manifest list of per-platform indexes of an image and its attestations. */
const LISTS_DEEP = 2;

const blobPath = (ref: ImageReference, digest: string): string => `/v2/${ref.repository}/blobs/${digest}`;
const manifestPath = (ref: ImageReference): string => `/v2/${ref.repository}/manifests/${ref.digest ?? ref.tag ?? "latest"}`;
const describe = (ref: ImageReference): string => `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;

function mediaTypeOf(response: Response, bytes: Buffer): string {
  const header = response.headers.get("content-type");
  if (header && header !== "application/json") return header.split(";")[0] ?? header;
  return (JSON.parse(bytes.toString("utf8")) as { mediaType?: string }).mediaType ?? MANIFEST_TYPES[2];
}

async function expectOk(response: Response, what: string): Promise<void> {
  if (response.ok) return;
  const text = (await response.text()).slice(0, 300);
  const hint = response.status === 401 || response.status === 403 ? " (check the registry username and password file)" : "";
  throw new RegistryError(`cannot ${what}: HTTP ${response.status}${hint}${text ? `: ${text}` : ""}`, response.status);
}
