/**
 * The plan in the upstream pipeline's `--dump` format, and everything that
 * format decides: how builds are named (`debian-13/amd64`,
 * `4.14.3+flambda/amd64`, `archive`), how they are grouped into sections
 * (a Linux distro, or a Windows group) and in which order builds and pushes
 * are reported. Each build prints as its label and its Dockerfile indented by
 * a tab; each manifest push as `staging, tags -> public tag`.
 */
import type { Build, Image, Manifest, Plan } from "./plan";

export type Step = { readonly build: Build; readonly label: string } | { readonly manifest: Manifest };
export interface Section {
  readonly name: string;
  readonly steps: readonly Step[];
}

/** How the upstream dump names a build. */
export function buildLabel(image: Image, build: Build): string {
  switch (image.kind) {
    case "opam":
      return `${image.distro}/${build.arch}`;
    case "compiler":
    case "windows-all":
      return `${image.compiler}/${build.arch}`;
    case "archive":
      return image.name;
    case "deprecated":
      return `deprecated/${build.arch}`;
  }
}

/** Records builds and pushes in reporting order; a build is reported after the build it starts FROM. */
class Reporter {
  readonly sections: { name: string; steps: Step[] }[] = [];
  private readonly reported = new Set<string>();
  private readonly builds: ReadonlyMap<string, { readonly image: Image; readonly build: Build }>;

  constructor(images: readonly Image[]) {
    this.builds = new Map(images.flatMap((image) => image.builds.map((build) => [build.id, { image, build }] as const)));
  }

  section(name: string): void {
    this.sections.push({ name, steps: [] });
  }

  /** Reports an image's builds (each after its parent), then its manifest pushes. */
  image(image: Image): void {
    this.imageBuilds(image);
    for (const manifest of image.manifests) this.current().push({ manifest });
  }

  imageBuilds(image: Image): void {
    for (const build of image.builds) this.build(image, build);
  }

  private build(image: Image, build: Build): void {
    if (this.reported.has(build.id)) return;
    const parent = build.parent === undefined ? undefined : this.builds.get(build.parent);
    if (parent) this.build(parent.image, parent.build);
    this.reported.add(build.id);
    this.current().push({ build, label: buildLabel(image, build) });
  }

  private current(): Step[] {
    const section = this.sections.at(-1);
    if (!section) throw new Error("no section open");
    return section.steps;
  }
}

/** Every build and push, grouped and ordered as the upstream pipeline reports them: Linux distro by distro, then each Windows group. */
export function referenceSections(plan: Plan): Section[] {
  const reporter = new Reporter(plan.images);
  const windowsMembers = new Set(plan.windowsGroups.flatMap((g) => g.members));
  const imagesOf = new Map<string, Image[]>();
  for (const image of plan.images) {
    if (image.kind === "windows-all") continue;
    imagesOf.set(image.distro, [...(imagesOf.get(image.distro) ?? []), image]);
  }
  for (const [distro, images] of imagesOf) {
    if (windowsMembers.has(distro)) continue;
    reporter.section(distro);
    // The distro's opam image, its compilers, and the archive after the default distro's.
    for (const image of images) reporter.image(image);
  }
  const byName = new Map(plan.images.map((i) => [i.name, i]));
  for (const group of plan.windowsGroups) {
    reporter.section(group.name);
    // Upstream pushes the multi-distro manifests first, building what they need on the way.
    for (const all of plan.images.filter((i) => i.kind === "windows-all" && i.distro === group.name)) {
      for (const part of all.dependsOn) {
        const image = byName.get(part);
        if (image) reporter.imageBuilds(image);
      }
      reporter.image(all);
    }
    for (const member of group.members) for (const image of imagesOf.get(member) ?? []) reporter.image(image);
  }
  return reporter.sections;
}

export function printReference(plan: Plan): string {
  const lines: string[] = [];
  for (const section of referenceSections(plan)) {
    lines.push(section.name);
    for (const step of section.steps) {
      if ("build" in step) {
        lines.push(step.label);
        for (const line of step.build.dockerfile.split("\n")) lines.push(line === "" ? "" : `\t${line}`);
      } else {
        lines.push(`${step.manifest.sources.join(", ")} -> ${step.manifest.tag}`);
      }
    }
  }
  return lines.join("\n") + "\n";
}
