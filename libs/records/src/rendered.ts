/** What a render writes for an image, from the plan: its build context and the tags its publish pushes. */
import type { Build, Image, Plan } from "../../plan/src";
import type { RenderedContext, RenderedManifests } from "./records";

/** What an image's build context is (context.json): the same for each of its arches. */
export function renderedContext(plan: Plan, image: Image): RenderedContext {
  const first = image.builds[0];
  return first?.context === "opam-repository"
    ? { kind: "opam-repository", url: plan.repository.url, commit: plan.repository.commit, ...(first.base ? { base: first.base } : {}) }
    : { kind: "dockerfile-only", ...(first?.base ? { base: first.base } : {}) };
}

/** Every build of a plan by id, to name the builds each tag joins. */
const buildsById = new WeakMap<Plan, ReadonlyMap<string, Build>>();

/** manifests.json: each public tag of the image and the builds it joins. */
export function renderedManifests(plan: Plan, image: Image): RenderedManifests {
  let builds = buildsById.get(plan);
  if (!builds) {
    builds = new Map(plan.images.flatMap((i) => i.builds).map((b) => [b.id, b]));
    buildsById.set(plan, builds);
  }
  const byId = builds;
  return {
    manifests: image.manifests.map((m) => ({
      name: m.name,
      sources: m.builds.map((id) => {
        const build = byId.get(id);
        if (!build) throw new Error(`${m.tag} joins ${id}, which the plan does not build`);
        return { image: build.image, arch: build.arch, ...(build.osVersion ? { osVersion: build.osVersion } : {}) };
      }),
    })),
  };
}
