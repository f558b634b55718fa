import { describe, expect, it } from "vitest";
import { isDockerTag, parseReference, repositoryProblem } from "./reference";

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
