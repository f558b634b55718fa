/**
 * Where the cache server keeps task artifacts. Write-once by contract: a
 * second write of a hash leaves the first artifact as it was. Artifacts move
 * as streams and files, never whole in memory: an upload is staged in a file
 * first (see upload.ts) and committed from there.
 */
import { createHash } from "node:crypto";
import { createReadStream, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { RegistryClient, parseRepository, type Credentials } from "../../../libs/docker/src";
import { evictions, isExpired, type EntryInfo, type Retention } from "./retention";

/** An upload that passed its checks, in a file of the storage's staging folder. */
export interface StagedArtifact {
  readonly path: string;
  readonly size: number;
  /** sha256:<hex> of the bytes. */
  readonly digest: string;
}

export interface StoredArtifact {
  readonly size: number;
  /** The bytes; a caller that does not read them destroys the stream. */
  readonly body: Readable;
}

export interface ArtifactStorage {
  readonly description: string;
  /** Where uploads are staged; on the store's own file system when it has one, so a commit is a link. */
  readonly stagingDirectory: string;
  read(hash: string): Promise<StoredArtifact | undefined>;
  /** Stores the staged artifact unless the hash is taken, says which happened, and removes the staged file. */
  commit(hash: string, staged: StagedArtifact): Promise<"created" | "exists">;
  /** Removes an artifact; false when there was none. */
  remove(hash: string): Promise<boolean>;
  /** Stops timers and removes what only this process used. */
  close(): void;
}

export interface DirectoryStorageOptions {
  readonly retention?: Retention;
  readonly log?: (line: string) => void;
  /** The clock, in ms since the epoch (tests move it). */
  readonly now?: () => number;
}

const STAGING = ".uploads";
/** How often expired artifacts are looked for, at most. */
const SWEEP_MS = 10 * 60 * 1000;

/**
 * Artifacts as files, `<root>/<first two characters>/<hash>`. Uploads are
 * staged in `<root>/.uploads` (no hash starts with a dot) and committed with
 * a hard link, which is atomic and fails when the hash exists. The file's
 * mtime is when it was stored and its atime when it was last read (set
 * explicitly, so noatime mounts do not matter); retention works from these.
 */
export function directoryStorage(root: string, options: DirectoryStorageOptions = {}): ArtifactStorage {
  const retention = options.retention ?? {};
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const pathOf = (hash: string) => join(root, hash.slice(0, 2), hash);
  const stagingDirectory = join(root, STAGING);
  // Uploads a crash interrupted are of no use.
  rmSync(stagingDirectory, { recursive: true, force: true });
  mkdirSync(stagingDirectory, { recursive: true });

  const entries = new Map<string, EntryInfo>();
  let totalBytes = 0;
  for (const shard of readdirSync(root, { withFileTypes: true })) {
    if (!shard.isDirectory() || shard.name === STAGING) continue;
    for (const file of readdirSync(join(root, shard.name))) {
      const stat = statSync(join(root, shard.name, file));
      entries.set(file, { hash: file, size: stat.size, storedAt: stat.mtimeMs, readAt: Math.max(stat.atimeMs, stat.mtimeMs) });
      totalBytes += stat.size;
    }
  }

  function forget(hash: string): boolean {
    const entry = entries.get(hash);
    rmSync(pathOf(hash), { force: true });
    if (!entry) return false;
    entries.delete(hash);
    totalBytes -= entry.size;
    return true;
  }

  function enforce(): void {
    const chosen = evictions(entries.values(), retention, now());
    if (chosen.length === 0) return;
    let bytes = 0;
    for (const { hash } of chosen) {
      bytes += entries.get(hash)?.size ?? 0;
      forget(hash);
    }
    const expired = chosen.filter((c) => c.reason === "expired").length;
    log(`retention: removed ${chosen.length} artifacts (${bytes} bytes; ${expired} past the maximum age, ${chosen.length - expired} least recently read over the budget); ${totalBytes} bytes kept`);
  }

  enforce();
  const sweep = retention.maxAgeMs === undefined ? undefined : setInterval(enforce, Math.min(SWEEP_MS, Math.max(1000, retention.maxAgeMs / 4)));
  sweep?.unref();

  return {
    description: `directory ${root}`,
    stagingDirectory,
    async read(hash) {
      let handle;
      try {
        handle = await open(pathOf(hash), "r");
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw e;
      }
      const stat = await handle.stat();
      if (isExpired({ storedAt: stat.mtimeMs }, retention, now())) {
        await handle.close();
        forget(hash);
        return undefined;
      }
      const readAt = now();
      const known = entries.get(hash);
      if (known) entries.set(hash, { ...known, readAt });
      else {
        // Written by another process sharing the folder: count it from now on.
        entries.set(hash, { hash, size: stat.size, storedAt: stat.mtimeMs, readAt });
        totalBytes += stat.size;
      }
      try {
        utimesSync(pathOf(hash), readAt / 1000, stat.mtime);
      } catch {
        // Removed meanwhile; the open handle still reads it.
      }
      return { size: stat.size, body: handle.createReadStream() };
    },
    async commit(hash, staged) {
      const path = pathOf(hash);
      try {
        mkdirSync(join(root, hash.slice(0, 2)), { recursive: true });
        linkSync(staged.path, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") return "exists";
        throw e;
      } finally {
        rmSync(staged.path, { force: true });
      }
      const storedAt = now();
      utimesSync(path, storedAt / 1000, storedAt / 1000);
      entries.set(hash, { hash, size: staged.size, storedAt, readAt: storedAt });
      totalBytes += staged.size;
      enforce();
      return "created";
    },
    async remove(hash) {
      const existed = statSync(pathOf(hash), { throwIfNoEntry: false }) !== undefined;
      forget(hash);
      return existed;
    },
    close() {
      if (sweep) clearInterval(sweep);
    },
  };
}

const ARTIFACT_TYPE = "application/vnd.ocaml-base-images.nx-cache.v1.tar";
const HASH_ANNOTATION = "org.ocaml.base-images.nx-cache.hash";
const EMPTY_CONFIG = Buffer.from("{}");
const digestOf = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/**
 * Artifacts in an OCI registry (the one the images go to): each is a blob,
 * referenced by a one-layer OCI manifest tagged with the task hash. Every
 * call goes through the project's registry client, which answers Basic and
 * Bearer (token service) challenges alike. Uploads are staged in a private
 * temporary folder, removed on close.
 */
export function registryStorage(repository: string, credentials?: Credentials): ArtifactStorage {
  const { registry: home } = parseRepository(repository, "the cache server's registry storage");
  const client = new RegistryClient({ credentials: (registry) => (registry === home ? credentials : undefined) });
  const stagingDirectory = mkdtempSync(join(tmpdir(), "obi-nx-cache-uploads-"));

  return {
    description: `registry ${repository}`,
    stagingDirectory,
    async read(hash) {
      const manifest = await client.getManifest(`${repository}:${hash}`);
      if (!manifest) return undefined;
      const layer = (JSON.parse(manifest.bytes.toString("utf8")) as { layers?: { digest: string; size: number }[] }).layers?.[0];
      if (!layer) return undefined;
      const blob = await client.getBlob(repository, layer.digest);
      if (!blob?.body) throw new Error(`${repository}:${hash} names blob ${layer.digest}, which the registry does not have`);
      return { size: layer.size, body: Readable.fromWeb(blob.body as WebReadableStream<Uint8Array>) };
    },
    async commit(hash, staged) {
      try {
        // The registry has no create-if-absent; a look-up first keeps honest clients from overwriting.
        if (await client.getManifest(`${repository}:${hash}`)) return "exists";
        await client.pushBlob(repository, staged.digest, () => createReadStream(staged.path));
        const config = digestOf(EMPTY_CONFIG);
        await client.pushBlob(repository, config, EMPTY_CONFIG);
        const manifest = {
          schemaVersion: 2,
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          artifactType: ARTIFACT_TYPE,
          config: { mediaType: "application/vnd.oci.empty.v1+json", digest: config, size: EMPTY_CONFIG.length },
          layers: [{ mediaType: ARTIFACT_TYPE, digest: staged.digest, size: staged.size }],
          // Makes each hash's manifest its own, so deleting one deletes no other hash with the same bytes.
          annotations: { [HASH_ANNOTATION]: hash },
        };
        await client.putManifest(`${repository}:${hash}`, { mediaType: manifest.mediaType, bytes: Buffer.from(JSON.stringify(manifest)) });
        return "created";
      } finally {
        rmSync(staged.path, { force: true });
      }
    },
    async remove(hash) {
      return client.deleteManifest(`${repository}:${hash}`);
    },
    close() {
      rmSync(stagingDirectory, { recursive: true, force: true });
    },
  };
}
