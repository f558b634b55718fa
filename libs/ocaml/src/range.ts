/**
 * Version ranges in the familiar npm style: comparators joined by spaces
 * (all must hold), alternatives joined by `||`. Example: `>=4.13.0 <5.0.0 || >=5.3.0`.
 */
import { compareVersions, parseVersion, type OcamlVersion } from "./version";

type Operator = ">=" | "<=" | ">" | "<" | "=";
interface Comparator {
  readonly operator: Operator;
  readonly version: OcamlVersion;
}

export interface VersionRange {
  readonly text: string;
  readonly alternatives: readonly (readonly Comparator[])[];
}

const COMPARATOR = /^(>=|<=|>|<|=)?(.+)$/;

export function parseRange(text: string): VersionRange {
  const trimmed = text.trim();
  if (trimmed === "" || trimmed === "*") return { text, alternatives: [[]] };
  const alternatives = trimmed.split("||").map((alternative) => {
    const parts = alternative.trim().split(/\s+/).filter(Boolean);
    if (parts.length === 0) throw new Error(`empty alternative in version range "${text}"`);
    return parts.map((part): Comparator => {
      const m = COMPARATOR.exec(part);
      if (!m) throw new Error(`bad comparator "${part}" in version range "${text}"`);
      return { operator: (m[1] ?? "=") as Operator, version: parseVersion(m[2] ?? "") };
    });
  });
  return { text, alternatives };
}

function holds(order: number, operator: Operator): boolean {
  switch (operator) {
    case ">=":
      return order >= 0;
    case "<=":
      return order <= 0;
    case ">":
      return order > 0;
    case "<":
      return order < 0;
    case "=":
      return order === 0;
  }
}

/**
 * Whether `version` lies in the range. With `bySeries`, only MAJOR.MINOR of
 * both sides are compared (`5.5.0~beta1` counts as 5.5).
 */
export function inRange(version: OcamlVersion, range: VersionRange, opts: { bySeries?: boolean } = {}): boolean {
  const key = (v: OcamlVersion): OcamlVersion => (opts.bySeries ? { major: v.major, minor: v.minor } : v);
  return range.alternatives.some((comparators) =>
    comparators.every((c) => holds(compareVersions(key(version), key(c.version)), c.operator)),
  );
}
