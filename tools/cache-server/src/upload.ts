/**
 * Receives an upload into a staging file, chunk by chunk, while checking it
 * is an Nx artifact and hashing it. Memory stays at a few chunks per upload
 * whatever the artifact's size: each chunk is written (and checked) before
 * the next is read, so a slow disk slows the client instead of filling memory.
 */
import { createHash, randomBytes } from "node:crypto";
import { open, rm } from "node:fs/promises";
import type { Readable } from "node:stream";
import { join } from "node:path";
import { NxArtifactCheck } from "./artifact";
import type { StagedArtifact } from "./storage";

export type UploadOutcome =
  | { readonly kind: "staged"; readonly staged: StagedArtifact }
  | { readonly kind: "too large" }
  | { readonly kind: "unpacks too large" }
  | { readonly kind: "not an artifact"; readonly reason: string }
  | { readonly kind: "aborted" };

/** A failure of the staging file (a full disk), not of the client: the server answers for its store. */
export class StagingError extends Error {
  constructor(readonly failure: NodeJS.ErrnoException) {
    super(failure.message);
  }
}

export async function receiveUpload(body: Readable, stagingDirectory: string, limits: { maxBytes: number; maxUnpackedBytes: number }): Promise<UploadOutcome> {
  const { maxBytes, maxUnpackedBytes } = limits;
  const path = join(stagingDirectory, `${randomBytes(12).toString("hex")}.part`);
  const file = await open(path, "wx", 0o644);
  const check = new NxArtifactCheck(maxUnpackedBytes);
  const sha = createHash("sha256");
  let size = 0;
  let outcome: UploadOutcome | undefined;
  try {
    try {
      // Stopping early must not destroy the request: the client still gets its answer.
      for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBytes) {
          outcome = { kind: "too large" };
          break;
        }
        await check.write(chunk);
        if (check.tooLargeUnpacked) {
          outcome = { kind: "unpacks too large" };
          break;
        }
        // Once the upload is known to be bad the rest is read but not kept.
        if (check.failed) continue;
        sha.update(chunk);
        await file.write(chunk).catch((e: NodeJS.ErrnoException) => {
          throw new StagingError(e);
        });
      }
    } catch (e) {
      // The store failing is the server's to answer for (507 when full); anything else here is the client going away.
      if (e instanceof StagingError) throw e.failure;
      outcome = { kind: "aborted" };
    }
    if (!outcome && (body as { readableAborted?: boolean }).readableAborted) outcome = { kind: "aborted" };
    if (!outcome) {
      const reason = await check.end();
      outcome = reason ? { kind: "not an artifact", reason } : { kind: "staged", staged: { path, size, digest: `sha256:${sha.digest("hex")}` } };
    }
    return outcome;
  } finally {
    check.dispose();
    // Closing after a failed write may fail too; what matters is that nothing partial stays.
    await file.close().catch(() => {});
    if (outcome?.kind !== "staged") await rm(path, { force: true });
  }
}
