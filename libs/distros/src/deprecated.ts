/**
 * The deprecation image: what a retired distro's tags point at once its grace
 * period is over. Like ocaml-dockerfile's `Dockerfile_opam.deprecated` it is a
 * bare Alpine that prints why and where to go; unlike it, the message and the
 * exit status come from the entrypoint when the image runs (upstream's is a
 * RUN that exits 1, so building it fails), and every command a user passes
 * still gets the message.
 */
import { comment, dockerfile, entrypointExec, from, syntax, type Dockerfile } from "../../dockerfile/src";
import { GENERATED_BY } from "./linux";

/** Upstream's words, verbatim: users search for them. */
export const DEPRECATION_MESSAGE =
  "This container is now deprecated and no longer supported. Please see https://github.com/ocaml/infrastructure/wiki/Containers " +
  "for the latest supported tags.  Try to use the longer term supported aliases instead of specific distribution versions " +
  "if you want to avoid seeing this message in the future.";

/** FROM an Alpine base (its tag; a build pins it to the digest it records), printing the message and exiting 1. */
export function deprecationImage(base: { readonly image: string; readonly tag: string }): Dockerfile {
  return dockerfile(
    syntax("docker/dockerfile:1"),
    comment(GENERATED_BY),
    from(base.image, { tag: base.tag }),
    // sh -c's script ignores the arguments it is given (`docker run <tag> opam …`), so every run says the same.
    entrypointExec(["/bin/sh", "-c", `echo '${DEPRECATION_MESSAGE}'; exit 1`]),
  );
}
