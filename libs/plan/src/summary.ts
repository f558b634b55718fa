/**
 * The plan as a person reads it: per distro, its arches and how many images,
 * builds and manifest pushes it makes; then the totals.
 */
import { ARCHES } from "../../ocaml/src";
import type { Plan } from "./plan";

interface Row {
  readonly distro: string;
  readonly arches: string;
  readonly images: number;
  readonly builds: number;
  readonly manifests: number;
}

export function printSummary(plan: Plan): string {
  const byDistro = new Map<string, { arches: Set<string>; images: number; builds: number; manifests: number }>();
  for (const image of plan.images) {
    const row = byDistro.get(image.distro) ?? { arches: new Set<string>(), images: 0, builds: 0, manifests: 0 };
    for (const build of image.builds) row.arches.add(build.arch);
    row.images += 1;
    row.builds += image.builds.length;
    row.manifests += image.manifests.length;
    byDistro.set(image.distro, row);
  }
  const rows: Row[] = [...byDistro].map(([distro, r]) => ({ distro, arches: ARCHES.filter((a) => r.arches.has(a)).join(" "), images: r.images, builds: r.builds, manifests: r.manifests }));
  const sum = (pick: (r: Row) => number) => rows.reduce((n, r) => n + pick(r), 0);
  const total: Row = {
    distro: "total",
    arches: `${new Set(rows.flatMap((r) => r.arches.split(" ").filter(Boolean))).size} arches`,
    images: sum((r) => r.images),
    builds: sum((r) => r.builds),
    manifests: sum((r) => r.manifests),
  };
  const cells = (r: Row): string[] => [r.distro, r.arches, String(r.images), String(r.builds), String(r.manifests)];
  const table = [["distro", "arches", "images", "builds", "manifests"], ...rows.map(cells), cells(total)];
  const widths = (table[0] ?? []).map((_, i) => Math.max(...table.map((row) => (row[i] ?? "").length)));
  // Names and arches left-aligned, counts right-aligned.
  const format = (row: string[]) =>
    row
      .map((cell, i) => (i < 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const lines = table.map(format);
  lines.splice(table.length - 1, 0, "-".repeat(Math.max(...lines.map((l) => l.length))));
  return `${lines.join("\n")}\n`;
}
