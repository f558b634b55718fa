/**
 * nx g ./tools/nx-plugin:distro fedora-45 [--from fedora-44] [--take-aliases]
 *
 * Adds a distro version: images/<name>/image.json copied from its closest
 * sibling with the version, title and base tag moved on, its aliases (and the
 * default) moved over when asked; then images/builds.expected regenerated and
 * the plan diff printed. Facts that differ between versions (gcc, bubblewrap,
 * builtinOcaml…) are copied and named, to be checked.
 */
import type { Tree } from "@nx/devkit";
import { IMAGES_LAYOUT } from "../../../../libs/matrix/src";
import { editImages, findDistro, GeneratorError, namePrefix, newestSibling, type Json } from "./images";
import { parseGeneratorOptions } from "./options";

/** Facts of a distro version that its successor may not share: copied, and named for checking. */
const COPIED_FACTS = ["gcc", "bubblewrap", "builtinOcaml", "rpm", "windows", "gnuCoreutils"];

/** `text` with its trailing `from` replaced by `to`, if it ends with it. */
const replaceEnd = (text: string, from: string, to: string): string | undefined => (text.endsWith(from) ? `${text.slice(0, -from.length)}${to}` : undefined);

export default async function distroGenerator(tree: Tree, rawOptions: unknown): Promise<void> {
  const options = parseGeneratorOptions("distro", rawOptions);
  const file = IMAGES_LAYOUT.distroFile(options.name);
  editImages(tree, (images) => {
    if (images.exists(file)) throw new GeneratorError(`${file}: already exists; deprecate-distro or edit it instead`);
    const sibling = options.from !== undefined ? findDistro(images.distros, options.from, "--from") : newestSibling(images.distros, options.name);
    if (!sibling) throw new GeneratorError(`--from: no active distro is named like ${JSON.stringify(options.name)}; name the distro to copy`);
    const prefix = namePrefix(sibling);
    const version = options.distroVersion ?? (prefix !== undefined && options.name.startsWith(`${prefix}-`) ? options.name.slice(prefix.length + 1) : undefined);
    if (version === undefined) {
      throw new GeneratorError(`--distroVersion: cannot tell the version of ${JSON.stringify(options.name)} from ${sibling.name}'s name; give it`);
    }
    const title = options.title ?? replaceEnd(sibling.title, sibling.version, version);
    if (title === undefined) {
      throw new GeneratorError(`--title: ${sibling.name}'s title ${JSON.stringify(sibling.title)} does not end with its version; give the new title`);
    }
    const baseTag = options.baseTag ?? replaceEnd(sibling.base.tag, sibling.version, version);
    if (baseTag === undefined) {
      throw new GeneratorError(`--baseTag: ${sibling.name}'s base tag ${JSON.stringify(sibling.base.tag)} does not end with its version; give the new tag`);
    }

    const siblingJson = images.readJson(sibling.file);
    // The sibling's fields in its order, the new values in place: the new file reads like its sibling.
    const json: Json = {};
    for (const [key, value] of Object.entries(siblingJson)) {
      if (key === "status" || key === "deprecatedOn" || key === "default" || key === "aliases") continue;
      if (key === "version") json[key] = version;
      else if (key === "title") json[key] = title;
      // The sibling's digest pins its own tag; update-pins pins the new one.
      else if (key === "base") json[key] = { image: sibling.base.image, tag: baseTag };
      else json[key] = value;
      if (key === "tier" && options.takeAliases && sibling.aliases.length > 0) json.aliases = [...sibling.aliases];
      if (key === "tier" && options.takeAliases && sibling.isDefault) json.default = true;
    }
    if (options.takeAliases) {
      // Aliases and the default are where they were if the sibling has no tier key (it always has: tier is required).
      const { aliases: _aliases, default: _default, ...rest } = siblingJson;
      images.writeJson(sibling.file, rest);
    }
    images.writeJson(file, json);

    images.note(`${file}: ${title}, from ${sibling.name}; base ${sibling.base.image}:${baseTag} (unpinned: nx run images:update-pins pins it)`);
    const moved = [...sibling.aliases.map((a) => JSON.stringify(a)), ...(sibling.isDefault ? ["the default"] : [])];
    if (options.takeAliases && moved.length > 0) images.note(`${sibling.file}: ${moved.join(", ")} moved to ${options.name}`);
    else if (moved.length > 0) images.note(`${sibling.name} keeps ${moved.join(", ")} (--take-aliases moves them)`);
    const facts = COPIED_FACTS.filter((key) => key in siblingJson);
    if (facts.length > 0) images.note(`check these facts, copied from ${sibling.name}: ${facts.map((key) => `${key} ${JSON.stringify(siblingJson[key])}`).join(", ")}`);
  });
}
