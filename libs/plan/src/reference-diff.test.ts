/**
 * Acceptance: against upstream's 8.4.0 dump (test-data/upstream-8.4.0.expected,
 * upstream's published plan), every difference of this plan is one of the
 * upstream changes ported since, and nothing else differs.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadMatrix } from "../../matrix/src";
import { UPSTREAM_REPOSITORIES } from "../../tags/src";
import { makePlan, printReference } from ".";
import { diffAgainstReference, parseDump } from "./reference-diff";

const WORKSPACE = join(__dirname, "../../..");
const reference = readFileSync(join(__dirname, "../test-data/upstream-8.4.0.expected"), "utf8");
const actual = printReference(makePlan(loadMatrix(WORKSPACE), { repositories: UPSTREAM_REPOSITORIES, pins: "branch" }));
const diff = diffAgainstReference(reference, actual);

/** Lines of the reference's builds that this plan still has (all but Debian 12's s390x builds) matching `pattern`. */
const countLines = (pattern: RegExp) =>
  [...parseDump(reference)].flatMap(([name, section]) =>
    [...section.builds].flatMap(([label, body]) => (name === "debian-12" && label.endsWith("/s390x") ? [] : body)),
  ).filter((l) => pattern.test(l)).length;

describe("this plan against upstream's 8.4.0 dump", () => {
  it("differs only by the upstream changes since 8.4.0", () => {
    expect(diff.unexplained).toEqual([]);
  });

  it("treats the sections upstream's 8.4.0 dump does not have as upstream's later additions", () => {
    expect(diff.notInReference).toEqual(["oraclelinux-10", "opensuse-16.0", "ubuntu-26.04"]);
  });

  it("shows every change everywhere the reference says it applies", () => {
    // Every git set-up of 8.4.0 gains gc.autoDetach: two per Linux opam build, one per Cygwin git command.
    expect(diff.counts["gc.autoDetach added"]).toBe(
      countLines(/^\tRUN git config --global user\.name "Docker"$/) + countLines(/core\.longpaths true/),
    );
    // Every zstd install of 8.4.0 on apk, rpm and zypper becomes the headers package.
    expect(diff.counts["zstd package changed"]).toBe(
      countLines(/^\tRUN (apk add|yum install -y|zypper install --force-resolution -y) zstd( && yum clean packages)?$/),
    );
    const debian12 = parseDump(reference).get("debian-12");
    const s390x = [...(debian12?.builds.keys() ?? [])].filter((k) => k.endsWith("/s390x")).length;
    const s390xManifests = (debian12?.manifests ?? []).filter((m) => m.includes("-s390x")).length;
    expect(s390x).toBeGreaterThan(0);
    expect(diff.counts["Debian 12 without s390x"]).toBe(s390x + s390xManifests);
    expect(diff.counts["Alpine 3.23 gone"]).toBe(1);
    expect(diff.counts["Alpine 3.24 added"]).toBe(1);
    // Every opam image's copy of opam-repository is owned by number since docker-base-images#352
    // (the Alpine 3.24 section is compared with 3.23's, so it counts too).
    expect(diff.counts["opam-repository copied to uid:gid 1000:1000"]).toBe(countLines(/^\tCOPY --link --chown=opam:opam \[ "\.", "\/home\/opam\/opam-repository" \]$/));
    // No recipe uses a tmpfs mount, upstream's included: that change cannot show in a plan.
    expect(diff.counts["tmpfs mount printed as tmpfs"]).toBe(0);
  });
});

describe("diffAgainstReference", () => {
  const unexplained = (text: string) => diffAgainstReference(reference, text).unexplained;
  /** `text` with the first occurrence of `from` after `after` replaced. */
  const replaceAfter = (text: string, after: string, from: string, to: string) => {
    const start = text.indexOf(after);
    const at = text.indexOf(from, start);
    expect(start >= 0 && at >= 0, `${after} … ${from}`).toBe(true);
    return text.slice(0, at) + to + text.slice(at + from.length);
  };

  it("reports a changed line that is none of the changes", () => {
    const changed = replaceAfter(actual, "\ndebian-13/amd64\n", "RUN apt-get -y update", "RUN apt-get -y update -q");
    expect(unexplained(changed)).toEqual([expect.stringMatching(/^debian-13 debian-13\/amd64: line \d+: expected .*apt-get -y update/)]);
  });

  it("reports gc.autoDetach in a place upstream does not put it", () => {
    const moved = replaceAfter(
      actual,
      "\ndebian-13/amd64\n",
      '\tRUN git config --global user.name "Docker"\n\tRUN git config --global gc.autoDetach false\n',
      '\tRUN git config --global gc.autoDetach false\n\tRUN git config --global user.name "Docker"\n',
    );
    expect(unexplained(moved)).toHaveLength(1);
  });

  it("reports a dropped build other than Debian 12's s390x, and a changed archive", () => {
    const section = parseDump(actual).get("debian-12");
    const amd64 = section?.builds.get("debian-12/amd64") ?? [];
    const dropped = actual.replace(`debian-12/amd64\n${amd64.join("\n")}\n`, "");
    expect(unexplained(dropped)).toContain("debian-12: build debian-12/amd64 is missing");
    const archive = replaceAfter(actual, "\narchive\n", "rsync -aH", "rsync -a");
    expect(unexplained(archive)).toEqual([expect.stringMatching(/^debian-13 archive: line \d+/)]);
  });

  it("reports a new Alpine that is not the old one renamed, and an extra manifest", () => {
    const bubblewrap = replaceAfter(actual, "\nalpine-3.24/amd64\n", " bubblewrap\n", "\n");
    expect(unexplained(bubblewrap)).toEqual([expect.stringMatching(/^alpine-3\.24 alpine-3\.24\/amd64: line \d+/)]);
    const extra = actual.replace("\ndebian-13/amd64\n", "\nocurrent/opam-staging:x -> ocaml/opam:x\ndebian-13/amd64\n");
    expect(unexplained(extra)).toEqual(["debian-13: manifest is new: ocurrent/opam-staging:x -> ocaml/opam:x"]);
  });

  it("finds nothing to explain in the reference against itself", () => {
    const same = diffAgainstReference(reference, reference);
    expect(same.unexplained).toEqual([]);
    expect(same.explained).toEqual([]);
  });
});
