/**
 * Whether what a workspace published is whole and right, read from the real
 * registry: every public tag its renders name lists exactly its arches, each by
 * the digest of the build its record names, and that build is in the staging
 * repository. A watcher checks the same while a run goes on, so a tag that ever
 * points at a partial list is caught, not only one left at the end.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseReference, pinned, repositoryName, type RegistryClient } from "../../libs/docker/src";
import type { Workspace } from "./workspace";

interface RenderedManifests {
  readonly manifests: readonly { readonly name: string; readonly sources: readonly { readonly image: string; readonly arch: string }[] }[];
}

/** Each public tag name of the workspace's images, with the arches it must list. */
export function expectedTags(ws: Workspace): Map<string, { image: string; arches: string[] }[]> {
  const tags = new Map<string, { image: string; arches: string[] }[]>();
  const dist = ws.path("dist/images");
  for (const image of existsSync(dist) ? readdirSync(dist) : []) {
    const file = join(dist, image, "render/manifests.json");
    if (!existsSync(file)) continue;
    const rendered = JSON.parse(readFileSync(file, "utf8")) as RenderedManifests;
    for (const m of rendered.manifests) tags.set(m.name, [...(tags.get(m.name) ?? []), { image, arches: m.sources.map((s) => s.arch).sort() }]);
  }
  return tags;
}

/** A list's image entries: attestation manifests (platform unknown/unknown) beside them are not arches. */
const platformsOf = async (client: RegistryClient, ref: string) => (await client.platforms(ref))?.filter((e) => e.platform?.architecture !== "unknown") ?? undefined;

/**
 * What is wrong with the published state, one line each (empty: all right). `publicRepo`
 * and the records' staging tags are read through `direct` (the registry itself, not a proxy).
 */
export async function publishedProblems(ws: Workspace, client: RegistryClient, publicRepo: string, toDirect: (ref: string) => string): Promise<string[]> {
  const problems: string[] = [];
  for (const [name, images] of expectedTags(ws)) {
    const want = images[0];
    if (!want) continue;
    const tag = `${publicRepo}:${name}`;
    const entries = await platformsOf(client, tag);
    if (!entries) {
      problems.push(`${tag}: missing`);
      continue;
    }
    const arches = entries.map((e) => e.platform?.architecture ?? "?").sort();
    if (arches.join(",") !== want.arches.join(",")) problems.push(`${tag}: lists ${arches.join(",")}, not ${want.arches.join(",")}`);
    for (const arch of want.arches) {
      const record = JSON.parse(ws.read(`dist/images/${want.image}/build-${arch}.json`)) as { digest: string; stagingTag: string };
      const entry = entries.find((e) => e.platform?.architecture === arch);
      const staging = pinned(parseReference(toDirect(record.stagingTag)), record.digest);
      // A record names its image, or BuildKit's index of it and its attestations: the list names the image.
      const image = entry && entry.digest !== record.digest ? (await client.imagePlatform(staging))?.manifest.digest : record.digest;
      if (entry && entry.digest !== image) problems.push(`${tag}: ${arch} is ${entry.digest}, its build record says ${record.digest}`);
      if (!(await client.getManifest(staging))) problems.push(`${want.image} (${arch}): ${record.digest} is not in ${repositoryName(staging)}`);
    }
  }
  return problems;
}

/** Polls the public tags while a run goes on; remembers every list that was not exactly its arches. */
export function watchTags(client: RegistryClient, publicRepo: string, expected: Map<string, string[]>, everyMs = 300): { stop: () => Promise<string[]> } {
  const seen: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const [name, arches] of expected) {
        const entries = await platformsOf(client, `${publicRepo}:${name}`).catch(() => undefined);
        if (!entries) continue;
        const listed = entries.map((e) => e.platform?.architecture ?? "?").sort().join(",");
        if (listed !== arches.join(",")) seen.push(`${name}: listed ${listed} during the run`);
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return [...new Set(seen)];
    },
  };
}
