/**
 * How long a build is expected to take, by what it builds and where: the batch
 * scheduler orders each builder's queue by these (only their proportions
 * matter there), and the scheduling benchmark (tools/bench/schedule.ts) takes them
 * as the builds' durations.
 *
 * Where the figures come from: they are assumptions, not measurements (no
 * fleet ran here). Their proportions follow what each Dockerfile does: an opam
 * image bootstraps OCaml and compiles six opam binaries (2.1 … 2.5 and master),
 * a compiler image compiles one OCaml with `opam switch create`, the archive
 * image downloads opam-repository's sources. Per builder, the factor is how much
 * slower its usual native hardware is than an x86_64 server: arm64 1.2,
 * ppc64le 1.5, s390x 1.5, riscv64 5 (small boards), Windows 3 (Cygwin's fork,
 * slow file system). Replace them with a fleet's own build times when it has some.
 */
import { ARCHIVE } from "../../../../libs/tags/src";
import type { BuilderKey } from "../builders";

export type BuildKind = "opam" | "compiler" | "archive";

/** Minutes on an amd64 server. */
const AMD64_MINUTES: Readonly<Record<BuildKind, number>> = { opam: 30, compiler: 8, archive: 20 };

/** How much longer the same build takes on each builder than on amd64. */
const BUILDER_FACTOR: Readonly<Record<BuilderKey, number>> = { amd64: 1, arm64: 1.2, ppc64le: 1.5, s390x: 1.5, riscv64: 5, windows: 3 };

export const estimatedMinutes = (kind: BuildKind, builder: BuilderKey): number => AMD64_MINUTES[kind] * BUILDER_FACTOR[builder];

/** What a build builds: an opam image starts FROM a distro, the archive and compiler images FROM an opam image. */
export const buildKindOf = (build: { readonly image: string; readonly parent?: unknown }): BuildKind =>
  build.image === ARCHIVE ? "archive" : build.parent === undefined ? "opam" : "compiler";
