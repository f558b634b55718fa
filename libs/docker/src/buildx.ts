/** `docker buildx build` for one platform, pushed, with the pushed digest read back. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runChecked, type Runner } from "./runner";

export interface BuildRequest {
  /** Arguments that select the builder (`--builder NAME`; see connectBuilder); absent: the default builder. */
  readonly builderArgs?: readonly string[];
  /** e.g. linux/arm64 */
  readonly platform: string;
  readonly contextDir: string;
  readonly dockerfile: string;
  /** Every tag to push the result under. */
  readonly tags: readonly string[];
  /** Images a FROM names, replaced (e.g. `debian:13` → `docker-image://debian@sha256:…`, to pin it). */
  readonly buildContexts?: Readonly<Record<string, string>>;
  readonly env?: Readonly<Record<string, string>>;
  readonly onOutput?: (line: string) => void;
}

export async function buildAndPush(runner: Runner, request: BuildRequest): Promise<string | undefined> {
  const dir = mkdtempSync(join(tmpdir(), "obi-build-"));
  const metadata = join(dir, "metadata.json");
  try {
    const args = [
      "buildx",
      "build",
      ...(request.builderArgs ?? []),
      "--platform",
      request.platform,
      "--file",
      request.dockerfile,
      ...request.tags.flatMap((t) => ["--tag", t]),
      ...Object.entries(request.buildContexts ?? {}).flatMap(([name, value]) => ["--build-context", `${name}=${value}`]),
      // One plain image manifest per arch: the manifest lists are made at publish time.
      "--provenance=false",
      "--sbom=false",
      "--push",
      "--progress=plain",
      "--metadata-file",
      metadata,
      request.contextDir,
    ];
    await runChecked(runner, "docker", args, {
      ...(request.env ? { env: request.env } : {}),
      ...(request.onOutput ? { onOutput: request.onOutput } : {}),
    });
    if (runner.dryRun) return undefined;
    const json = JSON.parse(readFileSync(metadata, "utf8")) as Record<string, unknown>;
    const digest = json["containerimage.digest"];
    if (typeof digest !== "string") throw new Error("docker buildx did not report the pushed digest");
    return digest;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Creates (or moves) a multi-platform manifest list from images given by digest. */
export async function createManifestList(
  runner: Runner,
  tag: string,
  sources: readonly string[],
  opts: { env?: Readonly<Record<string, string>>; attempts?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<void> {
  const attempts = opts.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      await runChecked(runner, "docker", ["buildx", "imagetools", "create", "--tag", tag, ...sources], opts.env ? { env: opts.env } : {});
      return;
    } catch (e) {
      if (attempt >= attempts) throw e;
      await (opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))))(1000 * attempt);
    }
  }
}
