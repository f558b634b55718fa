import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadMatrix } from "../../matrix/src";
import { UPSTREAM_REPOSITORIES } from "../../tags/src";
import { DEFAULT_GRACE_DAYS, describeTags, makePlan } from ".";

const WORKSPACE = join(__dirname, "../../..");
const matrix = loadMatrix(WORKSPACE);
const titles = new Map(matrix.distros.map((d) => [d.name, d.title]));
const planOn = (now: Date) => makePlan(matrix, { repositories: UPSTREAM_REPOSITORIES, pins: "commit", retirement: { now, graceDays: DEFAULT_GRACE_DAYS } });
/** The tag names a description shows, as code spans. */
const named = (text: string) => new Set([...text.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]));

describe("the repository description", () => {
  const plan = planOn(new Date("2026-12-04T00:00:00Z"));
  const text = describeTags(plan, { repository: "ocaml/opam", titles });

  it("names every public tag of the plan, the deprecated ones under Deprecated", () => {
    const tags = plan.images.flatMap((i) => i.manifests.map((m) => m.name));
    expect(tags.length).toBeGreaterThan(400);
    const shown = named(text);
    expect(tags.filter((t) => !shown.has(t))).toEqual([]);
    const deprecated = text.slice(text.indexOf("## Deprecated"));
    expect(deprecated).toContain("Alpine 3.23 (`alpine-3.23`), deprecated 2026-08-09");
    expect(deprecated).toContain("`alpine-3.23-ocaml-5.4` (arm64, amd64)");
  });

  it("says what each alias points at, and the arches", () => {
    expect(text).toMatch(/\| `debian` \| `debian-13-ocaml-5\.4` \| [a-z0-9, ]+ \|/);
    expect(text).toMatch(/\| `latest` \| `debian-13-ocaml-5\.4` \|/);
    expect(text).toContain("### Debian 13");
  });

  it("is committed as docs/tags.md for today's plan, naming every public tag", () => {
    const committed = readFileSync(join(WORKSPACE, "docs/tags.md"), "utf8");
    const shown = named(committed);
    const today = planOn(new Date());
    expect(today.images.flatMap((i) => i.manifests.map((m) => m.name)).filter((t) => !shown.has(t)), "regenerate: nx run images:describe").toEqual([]);
  });
});
