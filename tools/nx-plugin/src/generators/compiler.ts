/**
 * nx g ./tools/nx-plugin:compiler 5.4.2        a release: replaces 5.4.1 and any 5.4.2 prerelease
 * nx g ./tools/nx-plugin:compiler 5.5.0~beta2  a prerelease: replaces 5.5.0~beta1
 *
 * Adds an OCaml compiler to images/compilers.json, which lists one release per
 * series (the newest is `latest`) and the unreleased prereleases; then
 * images/builds.expected regenerated and the plan diff printed.
 */
import type { Tree } from "@nx/devkit";
import { IMAGES_LAYOUT } from "../../../../libs/matrix/src";
import { compareVersions, parseVersion, sameVersion, type OcamlVersion } from "../../../../libs/ocaml/src";
import { editImages, GeneratorError } from "./images";
import { parseGeneratorOptions } from "./options";

const file = IMAGES_LAYOUT.compilers;

/** The listed versions that parse (the loader has checked them all). */
const versions = (list: unknown): { text: string; version: OcamlVersion }[] =>
  (Array.isArray(list) ? list : []).map((text: unknown) => ({ text: String(text), version: parseVersion(String(text)) }));

const sameSeries = (a: OcamlVersion, b: OcamlVersion) => a.major === b.major && a.minor === b.minor;
/** The release a prerelease leads to: 5.5.0 for 5.5.0~beta2. */
const release = (v: OcamlVersion): OcamlVersion => ({ major: v.major, minor: v.minor, ...(v.patch === undefined ? {} : { patch: v.patch }) });

export default async function compilerGenerator(tree: Tree, rawOptions: unknown): Promise<void> {
  const options = parseGeneratorOptions("compiler", rawOptions);
  editImages(tree, (images) => {
    let version: OcamlVersion;
    try {
      version = parseVersion(options.ocaml);
    } catch (e) {
      throw new GeneratorError(`ocaml: ${(e as Error).message}`);
    }
    if (version.variant !== undefined) throw new GeneratorError(`ocaml: ${JSON.stringify(options.ocaml)} names a variant; variants are rules in ${file}`);
    const json = images.readJson(file);
    const releases = versions(json.releases);
    const betas = versions(json.betas);
    const dev = versions(json.dev);
    const text = options.ocaml;
    if (version.prerelease === undefined) {
      const listed = releases.find((r) => sameSeries(r.version, version));
      if (listed && compareVersions(listed.version, version) >= 0) {
        throw new GeneratorError(`${file}: releases: ${listed.text} is already listed for the ${version.major}.${version.minor} series`);
      }
      const dropped = betas.filter((b) => sameVersion(release(b.version), version));
      json.releases = [...releases.filter((r) => r !== listed), { text, version }].sort((a, b) => compareVersions(a.version, b.version)).map((r) => r.text);
      json.betas = betas.filter((b) => !dropped.includes(b)).map((b) => b.text);
      // A released series is no longer built from its branch.
      const branch = dev.filter((d) => sameSeries(d.version, version));
      if (branch.length > 0) json.dev = dev.filter((d) => !branch.includes(d)).map((d) => d.text);
      const gone = [...dropped, ...branch].map((v) => v.text);
      images.note(`${file}: release ${text}${listed ? ` replaces ${listed.text}` : ", a new series"}${gone.length ? `; ${gone.join(", ")} dropped from betas and dev` : ""}`);
    } else {
      const released = releases.find((r) => compareVersions(r.version, release(version)) >= 0 && sameSeries(r.version, version));
      if (released) throw new GeneratorError(`${file}: betas: ${text} is a prerelease of a version already released (${released.text})`);
      const same = betas.filter((b) => sameVersion(release(b.version), release(version)));
      const newer = same.find((b) => compareVersions(b.version, version) >= 0);
      if (newer) throw new GeneratorError(`${file}: betas: ${newer.text} is already listed`);
      json.betas = [...betas.filter((b) => !same.includes(b)), { text, version }].sort((a, b) => compareVersions(a.version, b.version)).map((b) => b.text);
      images.note(`${file}: prerelease ${text}${same.length ? ` replaces ${same.map((b) => b.text).join(", ")}` : ""}`);
    }
    images.writeJson(file, json);
  });
}
