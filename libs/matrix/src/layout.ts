/**
 * Where everything under images/ lives, relative to the workspace root. This is
 * the one module that spells those paths; the loader, the pins updater, the Nx
 * plugin and the command-line tools all ask it.
 */

const DIR = "images";
const DISTRO_FILE = "image.json";
const SHARED = {
  compilers: "compilers.json",
  opam: "opam.json",
  opamRepository: "opam-repository.json",
} as const;

export const IMAGES_LAYOUT = {
  /** The folder itself. */
  dir: DIR,
  /** One folder per distro, named like it: `images/<distro>/image.json`. */
  distroFile: (distro: string): string => `${DIR}/${distro}/${DISTRO_FILE}`,
  /** The distro a path names, if it is a distro file. */
  distroOfFile(file: string): string | undefined {
    const parts = file.split("/");
    return parts.length === 3 && parts[0] === DIR && parts[2] === DISTRO_FILE ? parts[1] : undefined;
  },
  compilers: `${DIR}/${SHARED.compilers}`,
  opam: `${DIR}/${SHARED.opam}`,
  opamRepository: `${DIR}/${SHARED.opamRepository}`,
  /** Which upstream releases the data and recipes follow; not an input of the plan. */
  upstream: `${DIR}/upstream.json`,
  /** Generated JSON Schemas, one per kind of file. */
  schemaFile: (kind: string): string => `${DIR}/schema/${kind}.schema.json`,
  /** The committed plan (`npm run plan:update`). */
  buildsExpected: `${DIR}/builds.expected`,
  /** Every file the plan is made from, as one glob. */
  planInputsGlob: `${DIR}/{*/${DISTRO_FILE},${Object.values(SHARED).join(",")}}`,
  /** The Nx project root of an image: under its distro's folder, never on disk. */
  projectRoot: (distro: string, image: string): string => `${DIR}/${distro}/${image}`,
} as const;
