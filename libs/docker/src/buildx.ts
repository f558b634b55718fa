/**
 * `docker buildx build` for one platform, pushed, with the pushed digest read
 * back; run again when it fails talking to the registry (dockerStepWithRetries).
 * Manifest lists are written by the registry client (RegistryClient.putManifestList).
 */
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ownedDir } from "./owned-dirs";
import { parseReference } from "./reference";
import { DEFAULT_RETRY, retryDelay, type RetryPolicy } from "./registry";
import { CommandError, runChecked, type RunResult, type Runner } from "./runner";

/**
 * How a docker step that failed on the registry is tried again. docker's own
 * pusher retries a layer upload cut off midway, but one 5xx, 429 or 401 on
 * any other request fails the whole push; so the step is run again, whole, within the same policy as the
 * registry client's requests. A rerun of a build is answered by BuildKit's
 * cache: only the export and push are done again.
 */
export interface StepRetry {
  readonly policy: RetryPolicy;
  /** One line per retry, for the task's log. */
  readonly onRetry: (line: string) => void;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * What docker prints when the registry, not the build, failed: an HTTP status
 * it did not expect, a refused or broken connection, a timeout, an expired token.
 */
const REGISTRY_TROUBLE =
  /unexpected (HTTP )?status|status:? (5\d\d|429)|too many requests|toomanyrequests|service unavailable|bad gateway|internal server error|connection (reset|refused)|broken pipe|\bEOF\b|i\/o timeout|timeout awaiting|TLS handshake timeout|unauthorized: (authentication required|token)|failed to (push|fetch|do request|resolve source metadata|copy)/i;
/** A step of the build itself failed: running it again would fail the same way. */
const BUILD_FAILURE = /did not complete successfully|dockerfile parse error|failed to compute cache key|failed to read dockerfile/i;

/**
 * The lines of docker's output that report its own errors: buildx's `ERROR: …`, BuildKit's
 * `#N ERROR: …`, and the docker CLI's own (`docker push`: `Error response from daemon: …`,
 * `received unexpected HTTP status: …`, a registry's error code such as `toomanyrequests: …`),
 * each at the start of a line. A build step's output (`#N 0.123 …`, its echo in the `------`
 * box of a failure, the Dockerfile excerpt) is the build's, whatever words it holds: a
 * heredoc's `EOF` is not a registry.
 */
const DOCKER_ERROR_LINE = /^((#\d+ )?ERROR:|Error response from daemon:|error (pushing|pulling|parsing)|received unexpected HTTP status:|(toomanyrequests|unauthorized|denied|unknown|blob_unknown|manifest_unknown|name_unknown):)/i;
const errorLines = (output: readonly string[]): string[] => output.filter((line) => DOCKER_ERROR_LINE.test(line.trimEnd()));

/**
 * Whether a failed docker step failed on the registry, not the build: it exited by
 * itself (not killed, not stopped by a bound) and its error lines name a registry fault.
 */
export function registryTrouble(result: RunResult): boolean {
  if (result.ended) return false;
  const errors = errorLines([...result.stderr.split("\n"), ...result.stdout.split("\n")]);
  return errors.some((line) => REGISTRY_TROUBLE.test(line)) && !errors.some((line) => BUILD_FAILURE.test(line));
}

/**
 * Runs a docker step that talks to `registry`, again while it fails with registry
 * trouble, within the policy's tries and time; then fails naming the registry.
 */
export async function dockerStepWithRetries<T>(registry: string, what: string, retry: StepRetry | undefined, step: () => Promise<T>): Promise<T> {
  const policy = retry?.policy ?? DEFAULT_RETRY;
  const sleep = retry?.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  // The time bound is on retrying: it starts at the first failure, not with a build that may take minutes.
  let firstFailure: number | undefined;
  for (let tries = 1; ; tries++) {
    try {
      return await step();
    } catch (e) {
      if (!(e instanceof CommandError) || !registryTrouble(e.result)) throw e;
      firstFailure ??= Date.now();
      const errors = errorLines([...e.result.stderr.split("\n"), ...e.result.stdout.split("\n")]);
      const reason = [...errors].reverse().find((line) => REGISTRY_TROUBLE.test(line))?.replace(/^(#\d+ )?ERROR: /, "") ?? `exit ${e.result.exitCode}`;
      const wait = retryDelay(policy, tries + 1);
      const elapsed = Date.now() - firstFailure;
      if (tries >= policy.attempts || elapsed + wait > policy.withinMs) {
        throw new Error(`${what}: ${registry} failed it: ${reason}; gave up after ${tries} ${tries === 1 ? "try" : "tries"}`);
      }
      retry?.onRetry(`${registry}: ${what}: ${reason}; running it again in ${(wait / 1000).toFixed(1)} s (try ${tries + 1} of ${policy.attempts})`);
      await sleep(wait);
    }
  }
}

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
  /** Labels for the image's config (`org.opencontainers.image.*`). */
  readonly labels?: Readonly<Record<string, string>>;
  /** The attestations BuildKit makes and pushes with the image (none when absent). */
  readonly attestations?: Attestations;
}

/**
 * BuildKit's attestations: provenance (SLSA, made by BuildKit itself: `min` or
 * `max` detail) and an SBOM made by a scanner image (BuildKit's default,
 * docker/buildkit-syft-scanner, unless a generator is named). With either, the
 * pushed tag is an index of the image and one attestation manifest.
 */
export interface Attestations {
  readonly provenance: "min" | "max" | "off";
  readonly sbom: { readonly generator: string | null } | "off";
}

export const NO_ATTESTATIONS: Attestations = { provenance: "off", sbom: "off" };

/** `docker buildx build`'s flags for the attestations. */
export function attestationArgs(a: Attestations = NO_ATTESTATIONS): string[] {
  return [
    a.provenance === "off" ? "--provenance=false" : `--provenance=mode=${a.provenance}`,
    a.sbom === "off" ? "--sbom=false" : a.sbom.generator ? `--sbom=generator=${a.sbom.generator}` : "--sbom=true",
  ];
}

/** `--label key=value` for each label. */
export const labelArgs = (labels: Readonly<Record<string, string>> = {}): string[] => Object.entries(labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]);

/** The builder cannot make attestations (buildx's docker driver without the containerd image store). */
export class AttestationsUnsupported extends Error {
  override readonly name = "AttestationsUnsupported";
}

const NO_ATTESTATION_SUPPORT = /Attestation is not supported/i;

export async function buildAndPush(runner: Runner, request: BuildRequest, retry?: StepRetry): Promise<string | undefined> {
  // A dry run reads no metadata: it names the file and makes no folder for it (one each cost ~0.2 ms per build).
  const scratch = runner.dryRun ? undefined : ownedDir(join(tmpdir(), "obi-build"), "metadata");
  const metadata = scratch ? join(scratch.path, "metadata.json") : "<metadata>";
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
      ...labelArgs(request.labels),
      // Without attestations, one plain image manifest per arch; with them, an index of that image and its
      // attestation manifest. The public manifest lists are made at publish time, attestations kept.
      ...attestationArgs(request.attestations),
      "--push",
      "--progress=plain",
      "--metadata-file",
      metadata,
      request.contextDir,
    ];
    const registry = request.tags[0] ? parseReference(request.tags[0]).registry : "the registry";
    await dockerStepWithRetries(registry, `build and push ${request.tags[0] ?? ""} for ${request.platform}`, retry, async () => {
      try {
        return await runChecked(runner, "docker", args, {
          ...(request.env ? { env: request.env } : {}),
          ...(request.onOutput ? { onOutput: request.onOutput } : {}),
        });
      } catch (e) {
        if (e instanceof CommandError && NO_ATTESTATION_SUPPORT.test(`${e.result.stderr}\n${e.result.stdout}`)) {
          throw new AttestationsUnsupported("it cannot make attestations (buildx's docker driver without the containerd image store)");
        }
        throw e;
      }
    });
    if (runner.dryRun) return undefined;
    const json = JSON.parse(readFileSync(metadata, "utf8")) as Record<string, unknown>;
    const digest = json["containerimage.digest"];
    if (typeof digest !== "string") throw new Error("docker buildx did not report the pushed digest");
    return digest;
  } finally {
    scratch?.dispose();
  }
}
