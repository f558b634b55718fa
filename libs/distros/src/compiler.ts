/**
 * The Dockerfile of a compiler image: an opam switch with one compiler,
 * built FROM the opam image of the same distro and arch.
 */
import {
  cmd,
  cmdExec,
  copy,
  dockerfile,
  entrypointExec,
  env,
  escapeDirective,
  from,
  run,
  syntax,
  workdir,
  type Dockerfile,
} from "../../dockerfile/src";
import {
  additionalPackages,
  compareVersions,
  formatVersion,
  isDev,
  isMulticore,
  isUnreleasedBeta,
  majorMinor,
  opamPackage,
  parseVersion,
  sameVersion,
  withoutVariant,
  type OcamlVersion,
  type Releases,
} from "../../ocaml/src";
import { compilerDepexts } from "./linux";
import type { Distro } from "./model";

export const BETA_REPOSITORY = "git+https://github.com/ocaml/ocaml-beta-repository";
export const MULTICORE_REPOSITORY = "git+https://github.com/ocaml-multicore/multicore-opam";
/** Patches that let OCaml < 5.1 build with GCC 15's default of -std=gnu23. */
export const GCC15_PATCHES_REPOSITORY = "git+https://github.com/ocurrent/opam-repository#patches";

const GCC15_PATCHES_BEFORE = parseVersion("5.1.0");
/** 4.14.2 already carries the fixes. */
const GCC15_ALREADY_FIXED = parseVersion("4.14.2");
/** dune needs a secondary compiler to build natively with older OCaml (before 4.08's last patch release). */
const SECONDARY_COMPILER_BEFORE = parseVersion("4.08.1");

function needsGcc15Patches(distro: Distro, compiler: OcamlVersion): boolean {
  const plain = withoutVariant(compiler);
  const affected = compareVersions(plain, GCC15_PATCHES_BEFORE) < 0 && !sameVersion(plain, GCC15_ALREADY_FIXED);
  return affected && (distro.gcc?.[0] ?? 0) >= 15;
}

export function compilerImage(
  distro: Distro,
  releases: Releases,
  compiler: OcamlVersion,
  opamImage: string,
): Dockerfile {
  const linux = distro.os === "linux";
  const pkg = opamPackage(releases, compiler);
  const portPackage = distro.os === "windows" ? [`system-${distro.windows.port}`] : [];
  const packages = [`${pkg.name}.${pkg.version}`, ...portPackage, ...additionalPackages(compiler)].join(",");
  const plain = withoutVariant(compiler);
  return dockerfile(
    linux ? syntax("docker/dockerfile:1") : escapeDirective("`"),
    from(opamImage),
    (isDev(releases, plain) || isUnreleasedBeta(releases, plain)) &&
      run(`opam repo add beta ${BETA_REPOSITORY} --set-default`),
    isMulticore(compiler) && run(`opam repo add multicore ${MULTICORE_REPOSITORY} --set-default`),
    needsGcc15Patches(distro, compiler) && run(`opam repo add ocaml-patches-overlay ${GCC15_PATCHES_REPOSITORY} --set-default`),
    env([
      ["OPAMYES", "1"],
      ["OPAMCONFIRMLEVEL", "unsafe-yes"],
      ["OPAMERRLOGLEN", "0"], // show the whole log when a build fails
      ["OPAMPRECISETRACKING", "1"], // works around ocaml/opam#3997
    ]),
    compilerDepexts(distro, compiler),
    run(`opam switch create ${formatVersion(majorMinor(compiler))} --packages=${packages}`),
    run(`opam pin add -k version ${pkg.name} ${pkg.version}`),
    // opam 2.2+ has depexts built in; the Linux images keep the plugin for older opams.
    linux && run("opam install -y opam-depext"),
    linux && compareVersions(compiler, SECONDARY_COMPILER_BEFORE) < 0 && run("opam install -y ocaml-secondary-compiler"),
    entrypointExec(["opam", "exec", "--"]),
    linux
      ? dockerfile(cmd("bash"), copy(["Dockerfile"], "/Dockerfile.ocaml", { link: true }))
      : dockerfile(cmdExec(["cmd.exe"]), copy(["Dockerfile"], "/Dockerfile.ocaml")),
  );
}

/**
 * The archive image: every source archive opam-repository refers to, from
 * the previous archive plus a fresh `opam admin cache`, on a small Alpine.
 */
export function archiveImage(opamImage: string, previousArchive: string): Dockerfile {
  return dockerfile(
    from("ocaml/opam.ocaml.org-legacy", { alias: "opam-legacy" }),
    from(previousArchive, { alias: "opam-archive" }),
    from(opamImage, { alias: "archive" }),
    workdir("/home/opam/opam-repository"),
    run("rsync -aH /cache/cache/ /home/opam/opam-repository/cache/", {
      mounts: [{ type: "bind", target: "/cache", from: "opam-archive" }],
    }),
    run("opam admin cache --link=/home/opam/opam-repository/cache"),
    from("alpine:latest"),
    copy(["/"], "/legacy", { chown: "0:0", from: "opam-legacy" }),
    copy(["/home/opam/opam-repository/cache"], "/cache", { chown: "0:0", from: "archive" }),
  );
}
