/**
 * The classic builder (`docker build` without BuildKit), for engines that have
 * no BuildKit: Windows containers (microsoft/Windows-Containers#34; upstream's
 * pipeline builds Windows images the same way). One platform per engine, the
 * engine's own; the image is built, then each tag pushed, and the pushed
 * digest read from docker's own report.
 */
import { runChecked, type Runner } from "./runner";
import { labelArgs, type BuildRequest } from "./buildx";

/** What `docker push` reports last: `<tag>: digest: sha256:… size: …`. */
const PUSHED_DIGEST = /digest: (sha256:[0-9a-f]{64})/;

export async function classicBuildAndPush(runner: Runner, request: BuildRequest): Promise<string | undefined> {
  if (request.buildContexts && Object.keys(request.buildContexts).length > 0) {
    // The classic builder has no --build-context: a base pinned by digest cannot be swapped in.
    throw new Error(`the classic builder cannot pin ${Object.keys(request.buildContexts).join(", ")} by digest (no --build-context); leave base.digest out for this distro`);
  }
  const options = {
    env: { ...(request.env ?? {}), DOCKER_BUILDKIT: "0" },
    ...(request.onOutput ? { onOutput: request.onOutput } : {}),
  };
  const [first, ...others] = request.tags;
  if (!first) throw new Error("a build needs at least one tag");
  await runChecked(runner, "docker", ["build", "--platform", request.platform, "--file", request.dockerfile, ...labelArgs(request.labels), ...request.tags.flatMap((t) => ["--tag", t]), request.contextDir], options);
  let digest: string | undefined;
  for (const tag of [first, ...others]) {
    const pushed = await runChecked(runner, "docker", ["push", tag], options);
    digest ??= PUSHED_DIGEST.exec(pushed.stdout)?.[1];
  }
  if (runner.dryRun) return undefined;
  if (!digest) throw new Error("docker push did not report the pushed digest");
  return digest;
}
