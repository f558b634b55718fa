/**
 * Where everything under images/ lives, relative to the workspace root. This is
 * the one module that spells those paths; the loader, the pins updater, the Nx
 * plugin and the command-line tools all ask it.
 */

import { closest } from "./suggest";
import { escapeText, unsafeCharacter } from "./text";

const DIR = "images";
const DISTRO_FILE = "image.json";
const SHARED = {
  compilers: "compilers.json",
  opam: "opam.json",
  opamRepository: "opam-repository.json",
} as const;
const UPSTREAM = "upstream.json";
const BUILDS_EXPECTED = "builds.expected";
const SCHEMA_DIR = "schema";
/** Every file directly in images/; every folder but schema/ is a distro's. */
const TOP_FILES: readonly string[] = [...Object.values(SHARED), UPSTREAM, BUILDS_EXPECTED];
const SCHEMA_FILE = /^[a-z][a-z-]*\.schema\.json$/;

/** An entry that is neither a regular file nor a folder: never read, refused by name. */
export interface OtherEntry {
  readonly name: string;
  readonly kind: "symbolic link" | "FIFO" | "socket" | "device";
}

/** The entries directly in one folder (names only), by kind. */
export interface FolderListing {
  /** Regular files. */
  readonly files: readonly string[];
  /** Folders (a symbolic link to one is among `others`). */
  readonly folders: readonly string[];
  readonly others: readonly OtherEntry[];
}

/**
 * The one rule for what images/ may hold: regular files and folders. A link is
 * refused wherever it points, so no file outside what the repository's own
 * review shows can be read, or quoted in a message.
 */
const notRegular = (path: string, kind: OtherEntry["kind"]): string =>
  `${escapeText(path)}: a ${kind}; images/ holds regular files and folders only`;

/** Names with a control or bidirectional character are refused: they become tags and log lines. */
const unsafeName = (path: string, name: string): string | undefined => {
  const c = unsafeCharacter(name);
  return c && `${escapeText(path)}: a name holding ${c}, a control or bidirectional character`;
};

/**
 * Hidden entries are left alone: editors' swap files (`.image.json.swp`),
 * `.DS_Store`, `.gitkeep` come and go beside the files and are no input.
 */
const isHidden = (name: string): boolean => name.startsWith(".");

/** `; did you mean "x"?` for a likely slip of one of the known names, else `fallback`. */
const guess = (name: string, known: readonly string[], fallback: string): string => {
  const near = closest(name, known);
  return near !== undefined ? `; did you mean ${JSON.stringify(near)}?` : fallback;
};

/**
 * Every file and folder under images/ that the layout does not know, one line
 * each naming it, in path order. `list(folder)` lists a folder (a path under
 * the root), sorted.
 */
function unknownEntries(list: (folder: string) => FolderListing): string[] {
  const problems: string[] = [];
  /** Hidden files and folders are left alone, but no link or FIFO (a tool might follow it); unsafe names are refused. */
  const visible = (folder: string, listing: FolderListing) => {
    const keep = (name: string) => {
      const unsafe = unsafeName(`${folder}/${name}`, name);
      if (unsafe) problems.push(unsafe);
      return !unsafe && !isHidden(name);
    };
    for (const other of listing.others) problems.push(notRegular(`${folder}/${other.name}`, other.kind));
    return { files: listing.files.filter(keep), folders: listing.folders.filter(keep), names: listing.others.map((o) => o.name) };
  };
  const top = visible(DIR, list(DIR));
  for (const file of top.files.filter((f) => !TOP_FILES.includes(f))) {
    problems.push(`${DIR}/${file}: unknown file${guess(file, TOP_FILES, `; known: ${TOP_FILES.join(", ")}, and one folder per distro`)}`);
  }
  for (const folder of top.folders) {
    const path = `${DIR}/${folder}`;
    const inside = visible(path, list(path));
    const folders = inside.folders;
    const files = inside.files;
    if (folder === SCHEMA_DIR) {
      const only = "; the folder holds the generated <kind>.schema.json files only";
      for (const file of files.filter((f) => !SCHEMA_FILE.test(f))) problems.push(`${path}/${file}: unknown file${only}`);
      for (const sub of folders) problems.push(`${path}/${sub}: unknown folder${only}`);
      continue;
    }
    const only = "; a distro folder holds image.json only";
    if (!files.includes(DISTRO_FILE) && !inside.names.includes(DISTRO_FILE)) problems.push(`${path}: a distro folder without ${DISTRO_FILE}`);
    for (const file of files.filter((f) => f !== DISTRO_FILE)) problems.push(`${path}/${file}: unknown file${guess(file, [DISTRO_FILE], only)}`);
    for (const sub of folders) problems.push(`${path}/${sub}: unknown folder${only}`);
  }
  return problems;
}

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
  upstream: `${DIR}/${UPSTREAM}`,
  /** Generated JSON Schemas, one per kind of file. */
  schemaFile: (kind: string): string => `${DIR}/${SCHEMA_DIR}/${kind}.schema.json`,
  /** The committed plan (`npm run plan:update`). */
  buildsExpected: `${DIR}/${BUILDS_EXPECTED}`,
  /** The distro folders of a listing of images/: every folder but the schemas' and hidden ones. */
  distroFolders: (top: FolderListing): string[] => top.folders.filter((f) => f !== SCHEMA_DIR && !isHidden(f) && !unsafeCharacter(f)),
  unknownEntries,
  notRegular,
  /** Every file the plan is made from, as one glob. */
  planInputsGlob: `${DIR}/{*/${DISTRO_FILE},${Object.values(SHARED).join(",")}}`,
  /** The Nx project root of an image: under its distro's folder, never on disk. */
  projectRoot: (distro: string, image: string): string => `${DIR}/${distro}/${image}`,
} as const;
