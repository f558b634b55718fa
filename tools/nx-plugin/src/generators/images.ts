/**
 * What the generators share: images/ read through Nx's Tree (so the loader
 * checks the pending changes before `nx g` writes anything, and `--dry-run`
 * writes nothing), the committed plan regenerated, and the plan diff printed.
 */
import type { Tree } from "@nx/devkit";
import type { Distro } from "../../../../libs/distros/src";
import { closest, IMAGES_LAYOUT, loadMatrixFrom, MatrixError, MAX_FILE_BYTES, type ImagesReader } from "../../../../libs/matrix/src";
import { committedPlan, committedPlanText, distroOrder, printSummaryDiff } from "../../../../libs/plan/src";
import { resolveRetirement } from "../settings";

export type Json = Record<string, unknown>;

/** images/ as the Tree has it, pending changes included. */
export function treeReader(tree: Tree): ImagesReader {
  return {
    list(folder) {
      const names = tree.children(folder).sort();
      const isFile = (name: string) => tree.isFile(`${folder}/${name}`);
      return { files: names.filter(isFile), folders: names.filter((name) => !isFile(name)), others: [] };
    },
    exists: (file) => tree.exists(file),
    source(file) {
      const bytes = tree.isFile(file) ? tree.read(file) : null;
      if (bytes === null) return { kind: "refused", file, problem: `${file}: (top level): not a file` };
      if (bytes.length > MAX_FILE_BYTES) return { kind: "refused", file, problem: `${file}: (top level): more than the ${MAX_FILE_BYTES} bytes an images/ file may have` };
      return { kind: "read", file, text: bytes.toString("utf8") };
    },
  };
}

/** A generator's refusal: nothing is written (Nx flushes the Tree only when the generator succeeds). */
export class GeneratorError extends Error {
  override readonly name = "GeneratorError";
}

/** The edits a generator makes, and what it has to say about them. */
export interface ImagesEditor {
  /** The matrix before the edit, checked. */
  readonly distros: readonly Distro[];
  exists(file: string): boolean;
  readJson(file: string): Json;
  writeJson(file: string, json: Json): void;
  note(line: string): void;
}

/**
 * Runs `edit` on images/ through the Tree, then checks the result with the
 * matrix loader: a result the matrix would refuse is refused with the
 * loader's own lines. Then regenerates images/builds.expected and prints what
 * the edit does to the plan.
 */
export function editImages(tree: Tree, edit: (editor: ImagesEditor) => void, out: (text: string) => void = (t) => process.stdout.write(t)): void {
  const reader = treeReader(tree);
  const before = loadMatrixFrom(reader);
  const notes: string[] = [];
  edit({
    distros: [...before.distros].sort(distroOrder),
    exists: (file) => tree.exists(file),
    readJson: (file) => JSON.parse(tree.read(file, "utf-8") ?? "{}") as Json,
    writeJson: (file, json) => tree.write(file, JSON.stringify(json, null, 2) + "\n"),
    note: (line) => notes.push(line),
  });
  let after;
  try {
    after = loadMatrixFrom(reader);
  } catch (e) {
    if (e instanceof MatrixError) throw new GeneratorError(`nothing written: images/ would be refused:\n${e.message}`);
    throw e;
  }
  const retirement = resolveRetirement(undefined);
  const [old, plan] = [committedPlan(before, retirement), committedPlan(after, retirement)];
  const text = committedPlanText(plan);
  const moved = text !== committedPlanText(old);
  tree.write(IMAGES_LAYOUT.buildsExpected, text);
  const diff = printSummaryDiff(old, plan);
  const what = diff || (moved ? `the plan's counts stay; its builds or tags change: git diff ${IMAGES_LAYOUT.buildsExpected}\n` : "the plan does not change\n");
  out([...notes, "", what].join("\n"));
}

/** A distro of the matrix by name, or a refusal naming the option and guessing the name meant. */
export function findDistro(distros: readonly Distro[], name: string, option: string): Distro {
  const distro = distros.find((d) => d.name === name);
  if (distro) return distro;
  const near = closest(name, distros.map((d) => d.name));
  throw new GeneratorError(`${option}: no distro ${JSON.stringify(name)} in images/${near ? `; did you mean ${JSON.stringify(near)}?` : ""}`);
}

/** `fedora` for fedora-44 (its name without its version), if the name ends with its version. */
export function namePrefix(distro: Pick<Distro, "name" | "version">): string | undefined {
  return distro.name.endsWith(`-${distro.version}`) ? distro.name.slice(0, -distro.version.length - 1) : undefined;
}

/**
 * The newest active distro named like `name` (`fedora-*` for fedora-45), other
 * than `name` itself, whose version is of the same kind (numbers, or words
 * like testing): the sibling a new version copies and a deprecated one hands over to.
 */
export function newestSibling(distros: readonly Distro[], name: string): Distro | undefined {
  const cut = name.lastIndexOf("-");
  if (cut <= 0) return undefined;
  const prefix = name.slice(0, cut);
  const numeric = (text: string) => /^\d/.test(text);
  const wanted = numeric(name.slice(cut + 1));
  return distros.filter((d) => d.name !== name && d.status.state === "active" && namePrefix(d) === prefix && numeric(d.version) === wanted).at(-1);
}
