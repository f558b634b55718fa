/**
 * The repository description users read on the registry: every public tag of
 * the plan, grouped by distro and compiler, with its arches, the aliases and
 * what they point at, the retired tags, and how to pick one. Pure: from the
 * plan and the distros' titles to markdown.
 */
import type { Image, Plan } from "./plan";

export interface DescribeFacts {
  /** The public repository users pull from (`ocaml/opam`). */
  readonly repository: string;
  /** Each distro's human name, by name (`debian-13` → `Debian 13 (Trixie)`). */
  readonly titles: ReadonlyMap<string, string>;
}

const code = (text: string) => `\`${text}\``;

/** The arches a manifest lists, from the ids of the builds it joins (`<image>/<arch>`). */
const archesOf = (builds: readonly string[]) => builds.map((id) => id.slice(id.lastIndexOf("/") + 1)).join(", ");

/** An image's own tag (named like the image) and its other names. */
function namesOf(image: Image): { own: Image["manifests"][number] | undefined; aliases: Image["manifests"] } {
  const own = image.manifests.find((m) => m.name === image.name) ?? image.manifests[0];
  return { own, aliases: image.manifests.filter((m) => m !== own) };
}

function imageRows(image: Image): string[] {
  const { own, aliases } = namesOf(image);
  if (!own) return [];
  const what =
    image.kind === "opam" ? "opam, no compiler" : image.kind === "archive" ? "opam-repository's source archives" : `OCaml ${image.compiler ?? "?"}`;
  return [`| ${what} | ${code(own.name)} | ${aliases.map((m) => code(m.name)).join(" ") || "—"} | ${archesOf(own.builds)} |`];
}

export function describeTags(plan: Plan, facts: DescribeFacts): string {
  const out: string[] = [];
  const all = plan.images.flatMap((i) => i.manifests);
  const live = plan.images.filter((i) => i.kind !== "deprecated");
  const retired = plan.images.filter((i) => i.kind === "deprecated");
  const aliasOf = live.flatMap((i) => namesOf(i).aliases.map((m) => ({ alias: m.name, target: i.name, arches: archesOf(m.builds) })));

  out.push(`# ${facts.repository}: the OCaml community's base images`, "");
  out.push(
    `Generated from the build plan (\`nx run images:describe\`): ${all.length} tags. Every image has opam and`,
    "opam-repository; compiler images also have one OCaml compiler in an opam switch, as the `opam` user.",
    "",
    "## How to pick a tag",
    "",
    `- **Most users**: \`${facts.repository}:<distro>-ocaml-<version>\`, e.g. ${code(`${facts.repository}:debian-ocaml-5.4`)}: a distro *alias*`,
    "  (`debian`, `ubuntu-lts`, `alpine`, `fedora`…) follows that family's newest version, so the tag never goes away.",
    "- **A fixed distro version** (`debian-13-ocaml-5.4`) is exactly that, until the version is deprecated: some time",
    "  after, its tags print a deprecation message and exit 1 (see [Deprecated](#deprecated)). Prefer an alias.",
    "- **Variants** (tier-1 distros): `-flambda`, `-fp`, `-nnp`, `-afl`, `-no-flat-float-array`… after the compiler version.",
    "- **The bare distro name** (`debian-13`, `alpine`) and `latest` are the newest compiler's image.",
    "- **`-opam`** images have opam and no compiler; **`archive`** holds the source archives opam-repository refers to.",
    "- Each tag is a multi-arch list: `docker pull` picks your machine's arch among those listed.",
    "",
  );

  out.push("## Aliases", "", "| alias | points at | arches |", "| --- | --- | --- |");
  for (const a of aliasOf) out.push(`| ${code(a.alias)} | ${code(a.target)} | ${a.arches} |`);
  out.push("");

  out.push("## By distro", "");
  const byDistro = new Map<string, Image[]>();
  for (const image of live) byDistro.set(image.distro, [...(byDistro.get(image.distro) ?? []), image]);
  for (const [distro, images] of byDistro) {
    const title = facts.titles.get(distro);
    const arches = [...new Set(images.flatMap((i) => i.manifests[0]?.builds ?? []).map((id) => id.slice(id.lastIndexOf("/") + 1)))];
    out.push(`### ${title ? `${title} (${code(distro)})` : code(distro)}`, "", `Arches: ${arches.join(", ") || "—"}.`, "");
    out.push("| image | tag | also tagged | arches |", "| --- | --- | --- | --- |");
    for (const image of images) out.push(...imageRows(image));
    out.push("");
  }

  out.push("## Deprecated", "");
  if (retired.length === 0) out.push("No distro is retired now.", "");
  for (const image of retired) {
    const title = facts.titles.get(image.distro) ?? image.distro;
    out.push(
      `### ${title} (${code(image.distro)}), deprecated ${image.retired?.since ?? "?"}`,
      "",
      "These tags print a deprecation message and exit 1; move to the alias of the family or a newer version:",
      "",
      image.manifests.map((m) => `${code(m.name)} (${archesOf(m.builds)})`).join(", "),
      "",
    );
  }
  return out.join("\n");
}
