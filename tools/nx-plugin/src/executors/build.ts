/**
 * build-<arch>: builds one image for one arch with docker buildx and pushes it
 * to the staging repository, under its tag and under its build id. The
 * registry is a cache: a build whose id the staging repository already holds
 * is not built again, its digest is reused.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildAndPush, checkoutPinned, parseReference, repositoryName } from "../../../../libs/docker/src";
import { builderEnv, DEFAULT_REBUILD_PERIOD_DAYS, rebuildPeriod } from "../config";
import { trackedExecutorOf } from "./records";
import {
  buildRecordPath,
  openSession,
  readJson,
  renderDir,
  resolveSettings,
  writeWhole,
  type BuildRecord,
  type RegistrySettings,
  type RenderedContext,
} from "./shared";

export interface BuildOptions {
  readonly image: string;
  readonly arch: string;
  /** The staging tag's name part, e.g. `debian-13-opam-amd64`. */
  readonly tag: string;
  /** The image this one is built FROM (same arch), if any. */
  readonly parent?: { readonly image: string; readonly arch: string };
  readonly os: "linux" | "windows";
  readonly builder?: string;
  readonly stagingRepo: string;
  readonly registry?: RegistrySettings;
  readonly dryRun?: boolean;
  /** Build without the `# syntax=` line, with BuildKit's built-in frontend (for builders that cannot pull it). */
  readonly builtinFrontend?: boolean;
  /** Every build is redone once per this many days (0: never on schedule). */
  readonly rebuildPeriodDays?: number;
}

export const SYNTAX_LINE = /^# syntax=[^\n]*\n\n?/;

/** The id of a build: everything that determines its result. */
export function buildId(parts: {
  platform: string;
  dockerfile: string;
  context: RenderedContext;
  parentDigest: string | null;
  period: string;
}): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify({ v: 1, platform: parts.platform, context: parts.context, parent: parts.parentDigest, period: parts.period }));
  hash.update("\0");
  hash.update(parts.dockerfile);
  return hash.digest("hex");
}

/** Builds one image for one arch; `say` receives the progress lines. */
export async function runBuild(rawOptions: BuildOptions, root: string, say: (line: string) => void): Promise<boolean> {
  const resolved = resolveSettings(rawOptions);
  const options = { ...resolved, builder: process.env[builderEnv(resolved.arch)] || resolved.builder };
  const label = `${options.image} (${options.arch})`;
  const platform = `${options.os}/${options.arch}`;
  const session = openSession(options, say);
  try {
    const dir = renderDir(root, options.image);
    let dockerfile = readFileSync(join(dir, `${options.arch}.Dockerfile`), "utf8");
    if (options.builtinFrontend) dockerfile = dockerfile.replace(SYNTAX_LINE, "");
    const rendered = readJson<RenderedContext>(join(dir, "context.json"), `the rendered context of ${options.image}`);
    const parent = options.parent
      ? readJson<BuildRecord>(buildRecordPath(root, options.parent.image, options.parent.arch), `the build of ${options.parent.image} (${options.parent.arch})`)
      : undefined;
    if (parent && !parent.digest && !options.dryRun) throw new Error(`${options.parent?.image} (${options.arch}) has no pushed digest`);
    const period = rebuildPeriod(options.rebuildPeriodDays ?? DEFAULT_REBUILD_PERIOD_DAYS);
    const id = buildId({ platform, dockerfile, context: rendered, parentDigest: parent?.digest ?? null, period });
    const staging = parseReference(`${options.stagingRepo}:${options.tag}`);
    const repo = repositoryName(staging);
    const stagingTag = `${repo}:${options.tag}`;
    const idTag = `${repo}:build-${id}`;

    let digest: string | null = null;
    let reused = false;
    const cached = options.dryRun ? undefined : await session.registry.getManifest(`${options.stagingRepo}:build-${id}`);
    if (cached) {
      // Already built, by us or anyone sharing the staging repository: point the tag at it.
      const current = await session.registry.getManifest(stagingTag);
      if (current?.digest !== cached.digest) await session.registry.putManifest(stagingTag, cached);
      digest = cached.digest;
      reused = true;
      say(`${label}: build ${id.slice(0, 12)} is already in ${repo} (${digest}); not building`);
    } else {
      say(`${label}: building ${stagingTag} (build ${id.slice(0, 12)}) on ${options.builder ?? "the default builder"}`);
      const contextDir = mkdtempSync(join(tmpdir(), "obi-context-"));
      try {
        if (rendered.kind === "opam-repository") {
          say(`${label}: checking out ${rendered.url} at ${rendered.commit}`);
          if (!session.runner.dryRun) await checkoutPinned(session.runner, rendered.url, rendered.commit, contextDir);
        }
        const dockerfilePath = join(contextDir, "Dockerfile");
        if (existsSync(dockerfilePath)) throw new Error(`the build context of ${options.image} already has a Dockerfile`);
        writeFileSync(dockerfilePath, dockerfile);
        digest =
          (await buildAndPush(session.runner, {
            ...(options.builder ? { builder: options.builder } : {}),
            platform,
            contextDir,
            dockerfile: dockerfilePath,
            tags: [stagingTag, idTag],
            ...(rendered.kind === "opam-repository" && rendered.base?.digest
              ? { buildContexts: { [`${rendered.base.image}:${rendered.base.tag}`]: `docker-image://${rendered.base.image}@${rendered.base.digest}` } }
              : {}),
            env: session.dockerEnv,
            onOutput: (line) => say(`${label}: ${line}`),
          })) ?? null;
      } finally {
        rmSync(contextDir, { recursive: true, force: true });
      }
      say(`${label}: pushed ${stagingTag}${digest ? ` (${digest})` : ""}`);
    }
    const record: BuildRecord = { image: options.image, arch: options.arch, platform, stagingTag, digest, buildId: id, reused, dryRun: Boolean(options.dryRun) };
    writeWhole(buildRecordPath(root, options.image, options.arch), JSON.stringify(record, null, 2) + "\n");
    if (options.dryRun) say(`${label}: dry run: nothing was built or pushed`);
    return true;
  } catch (e) {
    say(`build of ${options.image} for ${options.arch} failed: ${(e as Error).message}`);
    return false;
  } finally {
    session.close();
  }
}

const executor = trackedExecutorOf(runBuild);
export default executor.single;
/** Every build task of a run in one process, in dependency order. */
export const buildBatch = executor.batch;
