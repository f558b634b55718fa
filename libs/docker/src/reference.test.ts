import { describe, expect, it } from "vitest";
import {
  buildIdTag,
  digestRef,
  formatReference,
  isDockerTag,
  parseReference,
  pinned,
  repositoryProblem,
  tagRef,
  tryParseReference,
  type ImageReference,
} from "./reference";

describe("repositoryProblem", () => {
  it("accepts repositories as docker writes them", () => {
    for (const repo of ["ocaml/opam", "alpine", "localhost:5000/opam-staging", "quay.io/centos/centos", "mcr.microsoft.com/windows/servercore", "[::1]:5000/a__b"]) {
      expect(repositoryProblem(repo), repo).toBeUndefined();
    }
  });

  it("refuses empty, spaced, uppercase, tagged and malformed names", () => {
    for (const repo of ["", " ", "Ocaml/opam", "ocaml/opam:latest", "ocaml/opam@sha256:" + "0".repeat(64), "ocaml//opam", "-a/b", "bad host:5000/x", `a/${"b".repeat(260)}`]) {
      expect(repositoryProblem(repo), repo).toMatch(/^not an image repository/);
    }
  });
});

describe("parseReference", () => {
  it("refuses a bad tag or digest instead of carrying it to a FROM line", () => {
    expect(parseReference("debian:13").tag).toBe("13");
    expect(() => parseReference("debian:")).toThrow(/not a valid/);
    expect(() => parseReference("debian@md5")).toThrow(/not a valid digest/);
  });
});

describe("isDockerTag", () => {
  it("follows Docker's grammar: 128 characters of [A-Za-z0-9_.-], not starting with . or -", () => {
    expect(["latest", "Debian_13", "_x", "a".repeat(128)].every(isDockerTag)).toBe(true);
    expect(["", ".x", "-x", "a b", "a:b", "a".repeat(129)].some(isDockerTag)).toBe(false);
  });
});

const D = `sha256:${"ab".repeat(32)}`;

describe("formatReference", () => {
  it("writes what parseReference reads, as docker writes it: text to value and back, byte for byte", () => {
    const texts = [
      "alpine",
      "alpine:3.23",
      "ocaml/opam:debian-13-ocaml-5.4",
      "ocurrent/opam-staging@" + D,
      "localhost:5000/opam-staging:build-" + "0".repeat(64),
      "127.0.0.1:5000/a/b/c:x@" + D,
      "quay.io/centos/centos:stream9",
      "[::1]:5000/a__b.c-d:_x",
      "mcr.microsoft.com/windows/servercore:10.0.20348.2402",
    ];
    for (const text of texts) expect(formatReference(parseReference(text)), text).toBe(text);
  });

  it("reads back every value it writes", () => {
    const values: ImageReference[] = [
      { registry: "registry-1.docker.io", repository: "library/alpine", tag: "3.23" },
      { registry: "registry-1.docker.io", repository: "ocaml/opam", digest: D },
      { registry: "localhost:5000", repository: "opam-staging", tag: "x", digest: D },
      { registry: "ghcr.io", repository: "me/staging" },
    ];
    for (const value of values) expect(parseReference(formatReference(value)), formatReference(value)).toEqual(value);
    // Docker Hub's spellings all read to the same value, written the short way.
    expect(formatReference(parseReference("registry-1.docker.io/library/alpine:3"))).toBe("alpine:3");
    expect(formatReference(parseReference("library/alpine:3"))).toBe("alpine:3");
  });
});

describe("references made from parts", () => {
  const repo = { registry: "localhost:5000", path: "opam-staging" };

  it("put a tag or a digest in a repository, and pin a tagged reference to a digest", () => {
    expect(formatReference(tagRef(repo, "alpine-3.23-opam-amd64"))).toBe("localhost:5000/opam-staging:alpine-3.23-opam-amd64");
    expect(formatReference(digestRef(repo, D))).toBe(`localhost:5000/opam-staging@${D}`);
    expect(formatReference(pinned(parseReference("localhost:5000/opam-staging:x"), D))).toBe(`localhost:5000/opam-staging@${D}`);
  });

  it("refuse a tag or digest docker would not take, naming the repository", () => {
    expect(() => tagRef(repo, "a:b")).toThrow('not a valid tag for localhost:5000/opam-staging: "a:b"');
    expect(() => tagRef(repo, "")).toThrow(/not a valid tag/);
    expect(() => digestRef(repo, "sha256:abc")).toThrow('not a valid digest for localhost:5000/opam-staging: "sha256:abc"');
  });

  it("make a build's staging tag from its id, and from nothing else", () => {
    expect(buildIdTag("f".repeat(64))).toBe(`build-${"f".repeat(64)}`);
    for (const bad of ["", "abc", "F".repeat(64), `dry-run:${"0".repeat(64)}`]) expect(() => buildIdTag(bad), bad).toThrow(/not a build id/);
  });
});

describe("parseReference refuses", () => {
  it("what is not a reference, in one line quoting it", () => {
    for (const bad of ["", "UPPER/case", "a//b", "a:b:c", "host:notaport/x", `a@sha256:${"0".repeat(10)}`, "a@", ":tag", `x/${"y".repeat(260)}`]) {
      expect(() => parseReference(bad), bad).toThrow(/^not a valid (image repository|tag|digest)/);
      expect(tryParseReference(bad), bad).toBeUndefined();
    }
  });
});
