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

/** Per distro (in plan order), its arches and how many images, builds and manifests it makes. */
function summaryRows(plan: Plan): Row[] {
  const byDistro = new Map<string, { arches: Set<string>; images: number; builds: number; manifests: number }>();
  for (const image of plan.images) {
    const row = byDistro.get(image.distro) ?? { arches: new Set<string>(), images: 0, builds: 0, manifests: 0 };
    for (const build of image.builds) row.arches.add(build.arch);
    row.images += 1;
    row.builds += image.builds.length;
    row.manifests += image.manifests.length;
    byDistro.set(image.distro, row);
  }
  return [...byDistro].map(([distro, r]) => ({ distro, arches: ARCHES.filter((a) => r.arches.has(a)).join(" "), images: r.images, builds: r.builds, manifests: r.manifests }));
}

function totalRow(rows: readonly Row[]): Row {
  const sum = (pick: (r: Row) => number) => rows.reduce((n, r) => n + pick(r), 0);
  return {
    distro: "total",
    arches: `${new Set(rows.flatMap((r) => r.arches.split(" ").filter(Boolean))).size} arches`,
    images: sum((r) => r.images),
    builds: sum((r) => r.builds),
    manifests: sum((r) => r.manifests),
  };
}

/** Columns padded: names and arches left-aligned, counts right-aligned. */
function formatTable(table: readonly string[][]): string[] {
  const widths = (table[0] ?? []).map((_, i) => Math.max(...table.map((row) => (row[i] ?? "").length)));
  return table.map((row) =>
    row
      .map((cell, i) => (i < 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

const HEADER = ["distro", "arches", "images", "builds", "manifests"];

export function printSummary(plan: Plan): string {
  const rows = summaryRows(plan);
  const total = totalRow(rows);
  const cells = (r: Row): string[] => [r.distro, r.arches, String(r.images), String(r.builds), String(r.manifests)];
  const table = [HEADER, ...rows.map(cells), cells(total)];
  const lines = formatTable(table);
  lines.splice(table.length - 1, 0, "-".repeat(Math.max(...lines.map((l) => l.length))));
  return `${lines.join("\n")}\n`;
}

/**
 * What a change to images/ does to the plan, as a person reads it: each distro
 * added (+), removed (-) or changed (~), with its counts before → after, then
 * the totals. Empty when the summaries are the same.
 */
export function printSummaryDiff(before: Plan, after: Plan): string {
  const old = new Map(summaryRows(before).map((r) => [r.distro, r]));
  const now = new Map(summaryRows(after).map((r) => [r.distro, r]));
  const same = (a: Row, b: Row) => a.arches === b.arches && a.images === b.images && a.builds === b.builds && a.manifests === b.manifests;
  const moved = (a: string | number, b: string | number) => (a === b ? String(b) : `${a} → ${b}`);
  const changed = (mark: string, a: Row | undefined, b: Row | undefined): string[] => {
    const r = (b ?? a) as Row;
    if (!a || !b) return [`${mark} ${r.distro}`, r.arches, String(r.images), String(r.builds), String(r.manifests)];
    return [`${mark} ${r.distro}`, moved(a.arches, b.arches), moved(a.images, b.images), moved(a.builds, b.builds), moved(a.manifests, b.manifests)];
  };
  const rows: string[][] = [];
  for (const [name, b] of now) {
    const a = old.get(name);
    if (!a) rows.push(changed("+", undefined, b));
    else if (!same(a, b)) rows.push(changed("~", a, b));
  }
  for (const [name, a] of old) if (!now.has(name)) rows.push(changed("-", a, undefined));
  if (rows.length === 0) return "";
  const totals = changed(" ", totalRow([...old.values()]), totalRow([...now.values()]));
  const table = [["  distro", ...HEADER.slice(1)], ...rows, totals];
  return `${formatTable(table).join("\n")}\n`;
}
