/**
 * A build's id: a hash of everything that determines its result. The build
 * executor tags each build with it, and the status computes it the same way
 * to tell a current record from a stale one.
 */
import { createHash } from "node:crypto";
import type { RenderedContext } from "./records";

/** The Dockerfile's frontend line, left out for builders that use BuildKit's built-in frontend. */
export const SYNTAX_LINE = /^# syntax=[^\n]*\n\n?/;

/** The Dockerfile as it is built: without its `# syntax=` line on the built-in frontend. */
export const dockerfileAsBuilt = (dockerfile: string, builtinFrontend: boolean): string => (builtinFrontend ? dockerfile.replace(SYNTAX_LINE, "") : dockerfile);

/** What a dry child's id follows instead of its parent's digest, which a dry run has not got. */
export const dryParentStandIn = (parentBuildId: string): string => `dry-run:${parentBuildId}`;

export function buildId(parts: {
  readonly platform: string;
  readonly dockerfile: string;
  readonly context: RenderedContext;
  /** The parent image's digest (or a dry parent's stand-in); null without a parent. */
  readonly parentDigest: string | null;
  readonly period: string;
  /**
   * What its config's labels say of it besides its base (org.opencontainers.image.title,
   * description, version, source…): part of the image it makes. Its base is the parent and context above.
   */
  readonly labels: Readonly<Record<string, string>>;
}): string {
  const hash = createHash("sha256");
  const labels = Object.fromEntries(Object.entries(parts.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  hash.update(JSON.stringify({ v: 2, platform: parts.platform, context: parts.context, parent: parts.parentDigest, period: parts.period, labels }));
  hash.update("\0");
  hash.update(parts.dockerfile);
  return hash.digest("hex");
}
