import { describe, expect, it } from "vitest";
import { parseVersion as v } from "../../ocaml/src";
import { compilerImageNames, compilerTag, imageName, stagingTag, windowsAllNames } from ".";

const latest = v("5.4.1");

describe("compilerTag", () => {
  it("drops the patch and turns + and ~ into -", () => {
    expect(compilerTag(v("4.14.3+flambda+fp"))).toBe("4.14-flambda-fp");
    expect(compilerTag(v("5.5.0~beta1+afl"))).toBe("5.5-beta1-afl");
    expect(compilerTag(v("4.08.1"))).toBe("4.08");
  });
});

describe("image names and staging tags", () => {
  it("name opam and compiler images after the distro", () => {
    expect(imageName("debian-13")).toBe("debian-13-opam");
    expect(imageName("debian-13", v("4.14.3+flambda"))).toBe("debian-13-ocaml-4.14-flambda");
    expect(stagingTag({ staging: "reg/staging", public: "reg/opam" }, "debian-13-opam", "riscv64")).toBe(
      "reg/staging:debian-13-opam-riscv64",
    );
  });
});

describe("alias rules", () => {
  const debian = { distro: "debian-13", aliases: ["debian"], os: "linux" as const, isDefault: true };
  const ubuntu = { distro: "ubuntu-26.04", aliases: ["ubuntu-lts", "ubuntu"], os: "linux" as const, isDefault: false };
  const fedora42 = { distro: "fedora-42", aliases: [], os: "linux" as const, isDefault: false };
  const windows = { distro: "windows-mingw-ltsc2019", aliases: ["windows-mingw"], os: "windows" as const, isDefault: false };

  it("publish an older compiler under the distro's name and each alias", () => {
    expect(compilerImageNames(ubuntu, v("4.14.3"), latest)).toEqual(["ubuntu-26.04-ocaml-4.14", "ubuntu-lts-ocaml-4.14", "ubuntu-ocaml-4.14"]);
  });

  it("give the latest compiler the bare distro and alias names, and `latest` on the default distro", () => {
    expect(compilerImageNames(debian, latest, latest)).toEqual(["latest", "debian", "debian-13", "debian-13-ocaml-5.4", "debian-ocaml-5.4"]);
    expect(compilerImageNames(fedora42, latest, latest)).toEqual(["fedora-42", "fedora-42-ocaml-5.4"]);
  });

  it("do not move bare names for a variant of the latest compiler", () => {
    expect(compilerImageNames(debian, v("5.4.1+flambda"), latest)).toEqual(["debian-13-ocaml-5.4-flambda", "debian-ocaml-5.4-flambda"]);
  });

  it("on Windows, leave the alias's bare name alone", () => {
    expect(compilerImageNames(windows, latest, latest)).toEqual([
      "windows-mingw-ltsc2019",
      "windows-mingw-ltsc2019-ocaml-5.4",
      "windows-mingw-ocaml-5.4",
    ]);
  });

  it("name multi-distro Windows manifests windows-all-<port>", () => {
    expect(windowsAllNames("windows-all-mingw", latest, latest)).toEqual(["windows-all-mingw", "windows-all-mingw-ocaml-5.4"]);
    expect(windowsAllNames("windows-all-msvc", v("4.14.3"), latest)).toEqual(["windows-all-msvc-ocaml-4.14"]);
  });
});
