/**
 * What an image says of itself (its org.opencontainers.image.title, description
 * and version labels and annotations), from the plan alone: the same words on
 * every arch and in every run.
 */
import type { Image } from "./plan";

export interface ImageAbout {
  /** The image's name (the project's). */
  readonly title: string;
  readonly description: string;
  /** The OCaml version, for images that carry one compiler. */
  readonly version?: string;
}

export function imageAbout(image: Image): ImageAbout {
  return { title: image.name, description: describeImage(image), ...(image.compiler && image.kind !== "opam" ? { version: image.compiler } : {}) };
}

function describeImage(image: Image): string {
  switch (image.kind) {
    case "opam":
      return `opam and opam-repository on ${image.distro}`;
    case "compiler":
      return `OCaml ${image.compiler} on ${image.distro}`;
    case "archive":
      return "the source archives opam-repository refers to";
    case "windows-all":
      return `OCaml ${image.compiler} on every ${image.distro} image`;
    case "deprecated":
      return `the deprecation message, under every tag ${image.distro} had (deprecated ${image.retired?.since ?? ""})`;
  }
}
