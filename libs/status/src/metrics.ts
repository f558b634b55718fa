/**
 * What /metrics says about the images, as plain numbers from the status
 * document: upstream's per-platform and per-version image states
 * (ocurrent/docker-base-images, src/metrics.ml) and ours. Pure; the status
 * server turns these into Prometheus text (tools/nx-plugin/src/executors/metrics.ts).
 */
import type { StatusDocument } from "./schema";

/** Upstream's three image states: built and current, broken, or still to be done. */
export const IMAGE_HEALTH = ["ok", "failed", "active"] as const;
export type ImageHealth = (typeof IMAGE_HEALTH)[number];

type ImageStatus = StatusDocument["images"][number];

/**
 * One image's state as upstream counts it. `failed`: a build or its publish
 * failed, or a build was skipped because one it needs failed; `active`:
 * anything still to do (queued, running, never run, stale, built but not yet
 * published); `ok`: every build current and the manifests published.
 */
export function imageHealth(image: ImageStatus): ImageHealth {
  const builds = image.builds.map((b) => b.status);
  const publish = image.publish.status;
  if (publish.state === "failed" || builds.some((b) => b.state === "failed" || (b.state === "not-built" && b.note !== null))) return "failed";
  if (publish.state === "not-published" && publish.note !== null) return "failed";
  if (publish.state === "published" && builds.every((b) => b.state === "published")) return "ok";
  return "active";
}

export interface StateCount {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Counts by a label and state, every state present for every label value (upstream sets all three). */
function countBy(images: readonly ImageStatus[], label: string, keyOf: (image: ImageStatus) => string | undefined): StateCount[] {
  const counts = new Map<string, Record<ImageHealth, number>>();
  for (const image of images) {
    const key = keyOf(image);
    if (key === undefined) continue;
    let c = counts.get(key);
    if (!c) counts.set(key, (c = { ok: 0, failed: 0, active: 0 }));
    c[imageHealth(image)]++;
  }
  return [...counts].flatMap(([key, c]) => IMAGE_HEALTH.map((state) => ({ labels: { [label]: key, state }, value: c[state] })));
}

/**
 * `baseimages_pipeline_image_platform_state_total{platform,state}`: every image
 * (opam and compiler) by its distro's title, as upstream labels platforms
 * ("Debian 13").
 */
export const platformStates = (status: StatusDocument): StateCount[] => {
  const titles = new Map(status.distros.map((d) => [d.name, d.title]));
  return countBy(status.images, "platform", (i) => titles.get(i.distro) ?? i.distro);
};

/** `baseimages_pipeline_image_version_state_total{version,state}`: compiler images by OCaml version ("4.14.3+flambda"). */
export const versionStates = (status: StatusDocument): StateCount[] =>
  countBy(status.images, "version", (i) => i.compiler ?? undefined);

/** The newest time any build record was written, in Unix seconds; undefined when none was. */
export function lastBuildTime(status: StatusDocument): number | undefined {
  const times = status.staging.map((s) => Date.parse(s.builtAt)).filter((t) => !Number.isNaN(t));
  return times.length > 0 ? Math.max(...times) / 1000 : undefined;
}
