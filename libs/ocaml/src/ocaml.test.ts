import { describe, expect, it } from "vitest";
import {
  additionalPackages,
  compareVersions,
  compilerVariants,
  formatVersion,
  inRange,
  isDev,
  latestRelease,
  majorMinor,
  opamPackage,
  parseRange,
  parseVersion,
  withOptions,
  type Releases,
} from ".";

const v = parseVersion;
const releases: Releases = {
  releases: ["4.11.2", "4.14.3", "5.2.1", "5.4.1", "5.3.0"].map(v),
  dev: ["5.5.0", "5.6.0"].map(v),
  betas: [v("5.5.0~beta1")],
  variants: [
    { options: ["afl"], when: [{ series: parseRange(">=4.05 <5.0") }, { series: parseRange(">=5.0"), arches: ["amd64", "arm64"] }] },
    { options: ["fp"], when: [{ series: parseRange(">=4.08 <5.0"), arches: ["amd64"] }] },
    { options: ["fp", "flambda"], when: [{ series: parseRange(">=4.12 <5.0"), arches: ["amd64"] }] },
    { options: ["no-flat-float-array"], when: [{ series: parseRange(">=4.12") }] },
  ],
};

describe("parseVersion / formatVersion", () => {
  it("reads every part and prints minor numbers with two digits before OCaml 5", () => {
    expect(v("4.14.3+flambda+fp")).toEqual({ major: 4, minor: 14, patch: 3, variant: "flambda+fp" });
    expect(v("5.5.0~beta1+afl")).toEqual({ major: 5, minor: 5, patch: 0, prerelease: "beta1", variant: "afl" });
    expect(formatVersion(v("4.8"))).toBe("4.08");
    expect(formatVersion(v("5.5.0~beta1+afl"), { separator: "-", prereleaseSeparator: "-" })).toBe("5.5.0-beta1-afl");
    expect(formatVersion(majorMinor(v("5.5.0~beta1+flambda")))).toBe("5.5~beta1");
  });

  it("rejects what is not a version", () => {
    for (const bad of ["5", "five.1", "5.1.x", "", "5.1.0~", "5.1+"]) expect(() => v(bad), bad).toThrow(/not an OCaml version/);
  });
});

describe("compareVersions", () => {
  it("orders patch, prereleases before releases, and variants after the plain compiler", () => {
    const sorted = ["5.5.0", "4.14.3+nnp", "5.5.0~beta1", "4.14.3", "4.14.3+flambda", "4.14", "5.5.0~alpha1", "4.14.3+afl"]
      .map(v)
      .sort(compareVersions)
      .map((x) => formatVersion(x));
    expect(sorted).toEqual(["4.14", "4.14.3", "4.14.3+afl", "4.14.3+flambda", "4.14.3+nnp", "5.5.0~alpha1", "5.5.0~beta1", "5.5.0"]);
  });
});

describe("variants", () => {
  it("names combined options lexically from 4.12 and with fp first before", () => {
    expect(formatVersion(withOptions(v("4.14.3"), ["fp", "flambda"]))).toBe("4.14.3+flambda+fp");
    expect(formatVersion(withOptions(v("4.11.2"), ["flambda", "fp"]))).toBe("4.11.2+fp+flambda");
  });

  it("orders legacy option names by OCaml's constructor order, not alphabetically", () => {
    // OCaml hashes `Disable_flat_float_array to 341532231 and `Flambda to 798927821
    // (computed independently), so the legacy order is the reverse of the alphabet's.
    expect(formatVersion(withOptions(v("4.07.1"), ["flambda", "no-flat-float-array"]))).toBe("4.07.1+no-flat-float-array+flambda");
    expect(formatVersion(withOptions(v("4.14.0"), ["no-flat-float-array", "flambda"]))).toBe("4.14.0+flambda+no-flat-float-array");
  });

  it("lists the variants that exist on each arch, the plain compiler first", () => {
    const names = (arch: "amd64" | "riscv64", version: string) =>
      compilerVariants(releases, arch, v(version)).map((x) => formatVersion(x));
    expect(names("amd64", "4.14.3")).toEqual(["4.14.3", "4.14.3+afl", "4.14.3+fp", "4.14.3+flambda+fp", "4.14.3+no-flat-float-array"]);
    expect(names("riscv64", "4.14.3")).toEqual(["4.14.3", "4.14.3+afl", "4.14.3+no-flat-float-array"]);
    expect(names("riscv64", "5.5.0~beta1")).toEqual(["5.5.0~beta1", "5.5.0~beta1+no-flat-float-array"]);
  });
});

describe("opam packages", () => {
  it("names released, variant, dev and beta compilers as opam-repository does", () => {
    const pkg = (s: string) => opamPackage(releases, v(s));
    expect(pkg("4.14.3")).toEqual({ name: "ocaml-base-compiler", version: "4.14.3" });
    expect(pkg("4.11.2+fp")).toEqual({ name: "ocaml-variants", version: "4.11.2+fp" });
    expect(pkg("4.14.3+flambda+fp")).toEqual({ name: "ocaml-variants", version: "4.14.3+options" });
    expect(pkg("5.6.0")).toEqual({ name: "ocaml-variants", version: "5.6.0+trunk" });
    expect(pkg("5.6.0+flambda")).toEqual({ name: "ocaml-variants", version: "5.6.0+trunk" });
    expect(pkg("5.5.0~beta1")).toEqual({ name: "ocaml-base-compiler", version: "5.5.0~beta1" });
    expect(pkg("4.12.0+domains")).toEqual({ name: "ocaml-variants", version: "4.12.0+domains" });
  });

  it("adds the options-only package for variants from 4.12 on", () => {
    expect(additionalPackages(v("4.14.3+flambda+fp"))).toEqual(["ocaml-options-only-flambda-fp"]);
    expect(additionalPackages(v("4.11.2+fp"))).toEqual([]);
    expect(additionalPackages(v("5.4.1"))).toEqual([]);
  });

  it("treats a series as dev whatever its patch or variant, but not its prereleases", () => {
    expect(isDev(releases, v("5.6.0+afl"))).toBe(true);
    expect(isDev(releases, v("5.5.0~beta1"))).toBe(false);
    expect(formatVersion(latestRelease(releases))).toBe("5.4.1");
  });
});

describe("version ranges", () => {
  it("combines comparators with spaces and alternatives with ||", () => {
    const msvc = parseRange(">=4.13.0 <5.0 || >=5.3.0");
    expect(["4.12.1", "4.14.3", "5.2.1", "5.3.0", "5.4.1"].map((x) => inRange(v(x), msvc))).toEqual([false, true, false, true, true]);
    expect(inRange(v("1.0"), parseRange(""))).toBe(true);
  });

  it("compares only MAJOR.MINOR when asked for series", () => {
    expect(inRange(v("5.0.0~alpha1"), parseRange(">=5.0"), { bySeries: true })).toBe(true);
    expect(inRange(v("5.0.0~alpha1"), parseRange(">=5.0.0"))).toBe(false);
  });

  it("rejects malformed ranges", () => {
    expect(() => parseRange(">=4.13.0 || ")).toThrow(/empty alternative/);
    expect(() => parseRange(">=four")).toThrow(/not an OCaml version/);
  });
});
