/**
 * Where the cache server keeps task artifacts. Write-once by contract: a
 * second write of a hash leaves the first artifact as it was.
 */
import { createHash } from "node:crypto";
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RegistryClient, isLoopback, parseReference, type Credentials } from "../../../libs/docker/src";

export interface ArtifactStorage {
  readonly description: string;
  get(hash: string): Promise<Buffer | undefined>;
  /** Stores the artifact unless the hash is taken; says which happened. */
  putIfAbsent(hash: string, bytes: Buffer): Promise<"created" | "exists">;
}

/** Artifacts as files, `<root>/<first two characters>/<hash>`; a hard link makes the write atomic and exclusive. */
export function directoryStorage(root: string): ArtifactStorage {
  const pathOf = (hash: string) => join(root, hash.slice(0, 2), hash);
  return {
    description: `directory ${root}`,
    async get(hash) {
      const path = pathOf(hash);
      return existsSync(path) ? readFileSync(path) : undefined;
    },
    async putIfAbsent(hash, bytes) {
      const path = pathOf(hash);
      mkdirSync(join(root, hash.slice(0, 2)), { recursive: true });
      const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
      writeFileSync(tmp, bytes);
      try {
        linkSync(tmp, path);
        return "created";
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") return "exists";
        throw e;
      } finally {
        rmSync(tmp, { force: true });
      }
    },
  };
}

const ARTIFACT_TYPE = "application/vnd.ocaml-base-images.nx-cache.v1.tar";
const EMPTY_CONFIG = Buffer.from("{}");

/**
 * Artifacts in an OCI registry (the one the images go to): each is a blob,
 * referenced by a one-layer OCI manifest tagged with the task hash.
 */
export function registryStorage(repository: string, credentials?: Credentials): ArtifactStorage {
  const ref = parseReference(`${repository}:x`);
  const client = new RegistryClient({ credentials: (registry) => (registry === ref.registry ? credentials : undefined) });
  const origin = `${isLoopback(ref.registry) ? "http" : "https"}://${ref.registry}`;
  const base = `${origin}/v2/${ref.repository}`;
  const auth: Record<string, string> = credentials
    ? { Authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}` }
    : {};
  const digestOf = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

  async function pushBlob(bytes: Buffer): Promise<string> {
    const digest = digestOf(bytes);
    const head = await fetch(`${base}/blobs/${digest}`, { method: "HEAD", headers: auth });
    if (head.ok) return digest;
    const start = await fetch(`${base}/blobs/uploads/`, { method: "POST", headers: auth });
    if (start.status !== 202) throw new Error(`registry refused an upload: HTTP ${start.status}`);
    const location = new URL(start.headers.get("location") ?? "", origin);
    location.searchParams.set("digest", digest);
    const put = await fetch(location, { method: "PUT", headers: { ...auth, "Content-Type": "application/octet-stream" }, body: bytes });
    if (put.status !== 201) throw new Error(`registry refused a blob: HTTP ${put.status}`);
    return digest;
  }

  return {
    description: `registry ${repository}`,
    async get(hash) {
      const manifest = await client.getManifest(`${repository}:${hash}`);
      if (!manifest) return undefined;
      const layer = (JSON.parse(manifest.bytes.toString("utf8")) as { layers: { digest: string }[] }).layers[0];
      if (!layer) return undefined;
      const blob = await fetch(`${base}/blobs/${layer.digest}`, { headers: auth });
      if (!blob.ok) throw new Error(`registry has no blob ${layer.digest}: HTTP ${blob.status}`);
      return Buffer.from(await blob.arrayBuffer());
    },
    async putIfAbsent(hash, bytes) {
      // The registry has no create-if-absent; a look-up first keeps honest clients from overwriting.
      if (await client.getManifest(`${repository}:${hash}`)) return "exists";
      const layer = await pushBlob(bytes);
      const config = await pushBlob(EMPTY_CONFIG);
      const manifest = {
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        artifactType: ARTIFACT_TYPE,
        config: { mediaType: "application/vnd.oci.empty.v1+json", digest: config, size: EMPTY_CONFIG.length },
        layers: [{ mediaType: ARTIFACT_TYPE, digest: layer, size: bytes.length }],
      };
      await client.putManifest(`${repository}:${hash}`, {
        mediaType: manifest.mediaType,
        bytes: Buffer.from(JSON.stringify(manifest)),
      });
      return "created";
    },
  };
}
