/**
 * Windows entries of a manifest list carry the Windows version they run on
 * (`os.version`, e.g. 10.0.20348.2402): a Windows host pulls the entry whose
 * version matches its kernel. Upstream's pipeline joins its images with
 * `docker manifest create`, which copies `os.version` from each image's
 * config; `docker buildx imagetools create` (0.13) leaves it out, so after it
 * made the list, the Windows entries get it from their configs here.
 */
import { parseReference } from "./reference";
import type { RegistryClient } from "./registry";

interface IndexEntry {
  readonly digest: string;
  platform?: { os?: string; architecture?: string; "os.version"?: string; "os.features"?: string[] };
}

interface ImageConfig {
  readonly os?: string;
  readonly "os.version"?: string;
  readonly "os.features"?: string[];
}

/**
 * Gives each Windows entry of the list at `tag` its config's os.version (and
 * os.features), or else the version `known` gives for its digest (the plan's).
 * Returns the versions; throws when neither says one, since no Windows host
 * could choose that entry.
 */
export async function addWindowsVersions(client: RegistryClient, tag: string, known: ReadonlyMap<string, string> = new Map()): Promise<string[]> {
  const list = await client.getManifest(tag);
  if (!list) throw new Error(`${tag} is not in the registry`);
  const index = JSON.parse(list.bytes.toString("utf8")) as { manifests?: IndexEntry[] };
  const ref = parseReference(tag);
  const repo = `${ref.registry}/${ref.repository}`;
  const versions: string[] = [];
  let changed = false;
  for (const entry of index.manifests ?? []) {
    if (entry.platform?.os !== "windows") continue;
    const manifest = await client.getManifest(`${repo}@${entry.digest}`);
    const configDigest = manifest && (JSON.parse(manifest.bytes.toString("utf8")) as { config?: { digest?: string } }).config?.digest;
    const blob = configDigest ? await client.getBlob(repo, configDigest) : undefined;
    const config = blob ? ((await blob.json()) as ImageConfig) : undefined;
    // An image built on Windows inherits its base's version; BuildKit on Linux leaves it out.
    const version = config?.["os.version"] || known.get(entry.digest);
    if (!version) throw new Error(`${tag}: the Windows image ${entry.digest} has no os.version in its config and the plan knows none; Windows hosts choose an image by it`);
    versions.push(version);
    if (entry.platform["os.version"] !== version) {
      entry.platform["os.version"] = version;
      changed = true;
    }
    if (config?.["os.features"]?.length && !entry.platform["os.features"]) {
      entry.platform["os.features"] = config["os.features"];
      changed = true;
    }
  }
  if (changed) await client.putManifest(tag, { mediaType: list.mediaType, bytes: Buffer.from(JSON.stringify(index, null, 2)) });
  return versions;
}
