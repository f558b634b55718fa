/**
 * nx g ./tools/nx-plugin:deprecate-distro fedora-42 [--successor fedora-44] [--date 2026-12-04]
 *
 * Deprecates a distro: `"status": "deprecated"` and `deprecatedOn`, and its
 * aliases (and the default) handed over to its successor, since a deprecated
 * distro may keep neither; then images/builds.expected regenerated and the
 * plan diff printed.
 */
import type { Tree } from "@nx/devkit";
import { editImages, findDistro, GeneratorError, newestSibling, type Json } from "./images";
import { parseGeneratorOptions } from "./options";

/** `json` with `entries` placed right after `after` (or at the end), replacing keys of the same names. */
function insertAfter(json: Json, after: string, entries: Json): Json {
  const out: Json = {};
  const rest = Object.fromEntries(Object.entries(json).filter(([key]) => !(key in entries)));
  for (const [key, value] of Object.entries(rest)) {
    out[key] = value;
    if (key === after) Object.assign(out, entries);
  }
  return after in rest ? out : { ...out, ...entries };
}

export default async function deprecateDistroGenerator(tree: Tree, rawOptions: unknown): Promise<void> {
  const options = parseGeneratorOptions("deprecate-distro", rawOptions);
  const date = options.date ?? new Date().toISOString().slice(0, 10);
  editImages(tree, (images) => {
    const distro = findDistro(images.distros, options.name, "name");
    if (distro.status.state === "deprecated") throw new GeneratorError(`${distro.file}: status: ${distro.name} is already deprecated`);
    const handed = [...distro.aliases.map((a) => JSON.stringify(a)), ...(distro.isDefault ? ["the default"] : [])];
    const successor =
      options.successor !== undefined ? findDistro(images.distros, options.successor, "--successor") : handed.length > 0 ? newestSibling(images.distros, distro.name) : undefined;
    if (handed.length > 0 && !successor) {
      throw new GeneratorError(`--successor: ${distro.name} has ${handed.join(", ")}, which a deprecated distro cannot keep; name the distro they go to`);
    }
    const json = images.readJson(distro.file);
    const { aliases: _aliases, default: _default, ...kept } = json;
    images.writeJson(distro.file, insertAfter(kept, "title", { status: "deprecated", deprecatedOn: date }));
    images.note(`${distro.file}: deprecated on ${date}`);
    if (successor && handed.length > 0) {
      const next = images.readJson(successor.file);
      const aliases = [...successor.aliases, ...distro.aliases];
      const extra: Json = { ...(aliases.length > 0 ? { aliases } : {}), ...(distro.isDefault ? { default: true } : {}) };
      images.writeJson(successor.file, insertAfter(next, "tier", extra));
      images.note(`${successor.file}: takes ${handed.join(", ")} from ${distro.name}`);
    }
  });
}
