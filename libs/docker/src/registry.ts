/**
 * A small client for the OCI distribution API (what docker pushes to):
 * read and write manifests by tag or digest, with basic or token auth and
 * retries on transient failures. Credentials stay in memory.
 */
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
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

export interface RegistryClientOptions {
  readonly credentials?: (registry: string) => Credentials | undefined;
  /** Attempts for a request that fails with a network error or a 5xx/429 answer. */
  readonly attempts?: number;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** A request body; a function makes a fresh stream for each attempt (retries, a re-sent request after a 401). */
export type RequestBody = Buffer | (() => Readable);

const digestOf = (bytes: Buffer): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

export class RegistryClient {
  private readonly tokens = new Map<string, string>();
  private readonly attempts: number;
  private readonly fetchFn: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: RegistryClientOptions = {}) {
    this.attempts = options.attempts ?? 4;
    this.fetchFn = options.fetch ?? fetch;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** The manifest a reference names, or undefined if the registry has none. */
  async getManifest(reference: string | ImageReference): Promise<Manifest | undefined> {
    const ref = typeof reference === "string" ? parseReference(reference) : reference;
    const response = await this.request(ref, "GET", manifestPath(ref), { Accept: MANIFEST_TYPES.join(", ") });
    if (response.status === 404) return undefined;
    await expectOk(response, `read ${describe(ref)}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    return { digest: response.headers.get("docker-content-digest") ?? digestOf(bytes), mediaType: mediaTypeOf(response, bytes), bytes };
  }

  /** Stores a manifest under a tag (or its digest) in a repository of the same registry. */
  async putManifest(reference: string | ImageReference, manifest: Pick<Manifest, "mediaType" | "bytes">): Promise<string> {
    const ref = typeof reference === "string" ? parseReference(reference) : reference;
    const response = await this.request(ref, "PUT", manifestPath(ref), { "Content-Type": manifest.mediaType }, manifest.bytes);
    await expectOk(response, `write ${describe(ref)}`);
    return response.headers.get("docker-content-digest") ?? digestOf(manifest.bytes);
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
    const response = await this.request(ref, "DELETE", manifestPath({ ...ref, digest: manifest.digest }), {});
    if (response.status === 404) return false;
    await expectOk(response, `delete ${describe(ref)}`);
    await response.arrayBuffer();
    return true;
  }

  /** Whether the reference's repository holds a blob. */
  async hasBlob(repository: string | ImageReference, digest: string): Promise<boolean> {
    const ref = typeof repository === "string" ? parseReference(repository) : repository;
    const response = await this.request(ref, "HEAD", blobPath(ref, digest), {});
    if (response.status === 404) return false;
    await expectOk(response, `look up blob ${digest} in ${describe(ref)}`);
    return true;
  }

  /** A blob's bytes as they arrive, or undefined when the repository has none. */
  async getBlob(repository: string | ImageReference, digest: string): Promise<Response | undefined> {
    const ref = typeof repository === "string" ? parseReference(repository) : repository;
    const response = await this.request(ref, "GET", blobPath(ref, digest), {});
    if (response.status === 404) return undefined;
    await expectOk(response, `read blob ${digest} of ${describe(ref)}`);
    return response;
  }

  /** Uploads a blob in one request unless the repository holds it already. */
  async pushBlob(repository: string | ImageReference, digest: string, body: RequestBody): Promise<void> {
    const ref = typeof repository === "string" ? parseReference(repository) : repository;
    if (await this.hasBlob(ref, digest)) return;
    const started = await this.request(ref, "POST", `/v2/${ref.repository}/blobs/uploads/`, {});
    await expectOk(started, `start a blob upload to ${describe(ref)}`);
    await started.arrayBuffer();
    const location = started.headers.get("location");
    if (!location) throw new RegistryError(`${ref.registry} started an upload without a Location`);
    const target = new URL(location, this.origin(ref));
    target.searchParams.set("digest", digest);
    const put = await this.request(ref, "PUT", target.href, { "Content-Type": "application/octet-stream" }, body);
    await expectOk(put, `upload blob ${digest} to ${describe(ref)}`);
    await put.arrayBuffer();
  }

  private origin(ref: ImageReference): string {
    return `${isLoopback(ref.registry) ? "http" : "https"}://${ref.registry}`;
  }

  private async request(
    ref: ImageReference,
    method: string,
    /** A path on the registry, or a whole URL it gave (an upload's Location). */
    path: string,
    headers: Record<string, string>,
    body?: RequestBody,
  ): Promise<Response> {
    const url = new URL(path, this.origin(ref));
    const action = method === "GET" || method === "HEAD" ? "pull" : method === "DELETE" ? "delete" : "pull,push";
    const scope = `repository:${ref.repository}:${action}`;
    // Credentials go to the registry only, not to a host an upload location points elsewhere.
    const auth = () => (url.host === ref.registry ? this.authHeader(ref.registry, scope) : {});
    const send = () => this.fetchFn(url.href, { method, headers: { ...headers, ...auth() }, ...requestBody(body) });
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await send();
        if (response.status === 401) {
          const refused = response;
          const bytes = await refused.arrayBuffer();
          // Answered again with credentials when there are any for this registry; else the 401 stands, body and all.
          response = (await this.authenticate(ref.registry, scope, refused.headers.get("www-authenticate")))
            ? await send()
            : new Response(bytes, { status: refused.status, statusText: refused.statusText, headers: refused.headers });
        }
      } catch (e) {
        if (attempt >= this.attempts) throw new RegistryError(`cannot reach ${ref.registry}: ${(e as Error).message}`);
        await this.sleep(250 * 2 ** attempt);
        continue;
      }
      if ((response.status >= 500 || response.status === 429) && attempt < this.attempts) {
        await response.arrayBuffer();
        await this.sleep(250 * 2 ** attempt);
        continue;
      }
      return response;
    }
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
    const response = await this.fetchFn(url, {
      headers: creds ? { Authorization: `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}` } : {},
    });
    if (!response.ok) throw new RegistryError(`${registry}: authentication failed (${response.status})`, response.status);
    const json = (await response.json()) as { token?: string; access_token?: string };
    const token = json.token ?? json.access_token;
    if (!token) return false;
    this.tokens.set(`${registry} ${scope}`, `Bearer ${token}`);
    return true;
  }
}

/** Fetch options for a body; a stream needs `duplex: "half"` (Node's fetch), which its RequestInit type lacks. */
function requestBody(body: RequestBody | undefined): RequestInit {
  if (body === undefined) return {};
  if (Buffer.isBuffer(body)) return { body };
  return { body: body() as unknown as ReadableStream, duplex: "half" } as RequestInit;
}

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
