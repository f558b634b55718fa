/**
 * update-pins follows opam's releases: a series marked `follows: releases` moves
 * to its newest MAJOR.MINOR.PATCH tag (found with `git ls-remote --tags`), a
 * development series to its branch head. Against a local git repository with
 * tags, through a file:// URL.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execaSync } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { newestRelease, parseLsRemoteTags, updatePins } from "../../../libs/pins/src";
import { liveUpstream } from "./executors/update-pins";
import { smallFixture } from "../../testing/workspace";
import { DEFAULT_COMMAND_BOUNDS } from "../../../libs/docker/src";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A repository with branches 2.1 and master and tags: releases 2.1.0 (light), 2.1.5 and 2.1.10 (annotated), pre-releases. */
function opamRepository(): { url: string; commits: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), "obi-opam-git-"));
  dirs.push(dir);
  const git = (...args: string[]) => execaSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], { cwd: dir }).stdout.trim();
  const commit = (message: string) => {
    writeFileSync(join(dir, "file"), message);
    git("add", "-A");
    git("commit", "-qm", message);
    return git("rev-parse", "HEAD");
  };
  git("init", "-q", "-b", "master");
  const commits: Record<string, string> = {};
  commits["2.1.0"] = commit("2.1.0");
  git("tag", "2.1.0");
  git("checkout", "-qb", "2.1");
  commits["2.1.5"] = commit("2.1.5");
  git("tag", "-a", "2.1.5", "-m", "2.1.5");
  commits["2.1.10"] = commit("2.1.10");
  git("tag", "-a", "2.1.10", "-m", "2.1.10");
  commits["2.1 head"] = commit("after 2.1.10");
  git("tag", "2.1.11-beta1");
  git("checkout", "-q", "master");
  commits["2.2.0-beta1"] = commit("2.2.0-beta1");
  git("tag", "-a", "2.2.0-beta1", "-m", "beta");
  commits["master head"] = commit("dev");
  return { url: `file://${dir}`, commits };
}

/** A small matrix in `root` (its distros and compilers); each test writes its own opam.json and opam-repository.json. */
function matrixBesidesOpam(root: string): void {
  const fixture = smallFixture();
  for (const d of fixture.distros) {
    mkdirSync(join(root, "images", d.name), { recursive: true });
    writeFileSync(join(root, "images", d.name, "image.json"), JSON.stringify(d.json));
  }
  writeFileSync(join(root, "images/compilers.json"), JSON.stringify(fixture.compilers));
}

/** git through the real `git ls-remote` (the file:// repository); base images stay where they are pinned. */
const gitOnly = () => ({ ...liveUpstream({ auth: { server: "127.0.0.1:1" }, commands: DEFAULT_COMMAND_BOUNDS }), imageDigest: async () => PINNED_BASE });
const PINNED_BASE = `sha256:${"b".repeat(64)}`;

describe("following opam releases", () => {
  it("picks the newest release of a series, peeling annotated tags and skipping pre-releases", () => {
    const tags = parseLsRemoteTags(
      ["a".repeat(40) + "\trefs/tags/2.1.5", "b".repeat(40) + "\trefs/tags/2.1.5^{}", "c".repeat(40) + "\trefs/tags/2.1.10", "d".repeat(40) + "\trefs/tags/2.1.11-rc1", "e".repeat(40) + "\trefs/tags/2.10.0"].join("\n"),
    );
    expect(tags.find((t) => t.name === "2.1.5")?.commit).toBe("b".repeat(40));
    expect(newestRelease(tags, "2.1")).toEqual({ name: "2.1.10", commit: "c".repeat(40) });
    expect(newestRelease(tags, "2.2")).toBeUndefined();
  });

  it("update-pins moves a series that follows releases to its newest release tag, and a development series to its branch head", async () => {
    const repo = opamRepository();
    const root = mkdtempSync(join(tmpdir(), "obi-follow-"));
    dirs.push(root);
    mkdirSync(join(root, "images"));
    matrixBesidesOpam(root);
    const old = "0".repeat(40);
    writeFileSync(
      join(root, "images/opam.json"),
      JSON.stringify({
        url: repo.url,
        bootstrap: "master",
        windowsDefault: "master",
        builds: [
          { branch: "2.1", commit: old, follows: "releases" },
          { branch: "master", commit: old, publicName: "opam-dev" },
        ],
      }),
    );
    writeFileSync(join(root, "images/opam-repository.json"), JSON.stringify({ url: repo.url, branch: "master", commit: repo.commits["master head"] }));
    const changes = (await updatePins(root, gitOnly(), { write: true })).filter((c) => c.file === "images/opam.json");
    expect(changes.map((c) => `${c.pin} -> ${c.to}`)).toEqual([`opam 2.1 (releases): 2.1.10 -> ${repo.commits["2.1.10"]}`, `opam master -> ${repo.commits["master head"]}`]);
    const written = JSON.parse(readFileSync(join(root, "images/opam.json"), "utf8")) as { builds: Record<string, unknown>[] };
    expect(written.builds[0]).toEqual({ branch: "2.1", commit: repo.commits["2.1.10"], follows: "releases", release: "2.1.10" });
    // Not the branch's head, which is past the release.
    expect(repo.commits["2.1 head"]).not.toBe(repo.commits["2.1.10"]);
    expect(await updatePins(root, gitOnly(), { write: false })).toEqual([]);
  });

  it("says in one line when a series that follows releases has none", async () => {
    const repo = opamRepository();
    const root = mkdtempSync(join(tmpdir(), "obi-follow-"));
    dirs.push(root);
    mkdirSync(join(root, "images"));
    matrixBesidesOpam(root);
    writeFileSync(join(root, "images/opam.json"), JSON.stringify({ url: repo.url, bootstrap: "2.2", windowsDefault: "2.2", builds: [{ branch: "2.2", commit: "0".repeat(40), follows: "releases" }] }));
    writeFileSync(join(root, "images/opam-repository.json"), JSON.stringify({ url: repo.url, branch: "master", commit: repo.commits["master head"] }));
    await expect(updatePins(root, gitOnly(), { write: false })).rejects.toThrow(
      `images/opam.json: builds[0]: follows releases, but ${repo.url} has no release tag 2.2.N; follow its branch until it has one`,
    );
  });
});
