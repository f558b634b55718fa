/**
 * A remote cache server for Nx's self-hosted cache protocol:
 *   GET /v1/cache/{hash}    → 200 with the artifact, or 404 (HEAD likewise, without the body)
 *   PUT /v1/cache/{hash}    → 200 stored, 409 already stored (write-once), 413 too large
 *                             (sent or unpacked), 400 when the body is not an Nx artifact
 *                             (see artifact.ts), 507 when the store is full
 *   DELETE /v1/cache/{hash} → 200 removed, 404 none (admin tokens only; logged)
 * Every request needs `Authorization: Bearer <token>`: an admin token may do
 * everything, a read-write token GET and PUT, a read-only token (for pull
 * requests) only GET (403 otherwise); no token or an unknown one is 401.
 * Over HTTPS when given a certificate and key, else plain HTTP.
 * Hashes are checked, so no path can escape. Bodies stream both ways.
 * GET /metrics, with metrics on, answers Prometheus's scrape without a token.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { pipeline } from "node:stream/promises";
import type { CacheMetrics } from "./metrics";
import type { ArtifactStorage } from "./storage";
import { receiveUpload } from "./upload";

export interface CacheServerOptions {
  readonly storage: ArtifactStorage;
  readonly readWriteTokens: readonly string[];
  readonly readOnlyTokens: readonly string[];
  readonly adminTokens?: readonly string[];
  /** Largest artifact accepted, in bytes. */
  readonly maxBytes: number;
  /** Most bytes an artifact may unpack to (default `UNPACKED_PER_BYTE` × maxBytes). */
  readonly maxUnpackedBytes?: number;
  readonly log?: (line: string) => void;
  /** The certificate (chain) and key, PEM: served over HTTPS. Without them, plain HTTP. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  /** Counted requests, served on GET /metrics without a token (counts only, nothing stored). */
  readonly metrics?: CacheMetrics;
}

const HASH = /^[A-Za-z0-9_-]{1,128}$/;
/** Nx's outputs (text, Dockerfiles, records) compress a few times over; a bomb a thousandfold. */
export const UNPACKED_PER_BYTE = 4;
/** A file system out of space or quota: the store's fault, not the client's. */
const FULL = new Set(["ENOSPC", "EDQUOT"]);
const ALLOW = "GET, HEAD, PUT, DELETE";

function sameToken(given: string, known: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(known);
  return a.length === b.length && timingSafeEqual(a, b);
}

type Access = { readonly role: "admin" | "read-write" | "read-only"; readonly token: string } | { readonly role: "none" };

function accessOf(req: IncomingMessage, options: CacheServerOptions): Access {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
  if (!m) return { role: "none" };
  const token = m[1] as string;
  if ((options.adminTokens ?? []).some((t) => sameToken(token, t))) return { role: "admin", token };
  if (options.readWriteTokens.some((t) => sameToken(token, t))) return { role: "read-write", token };
  if (options.readOnlyTokens.some((t) => sameToken(token, t))) return { role: "read-only", token };
  return { role: "none" };
}

/** Names a token in logs without revealing it. */
export const tokenFingerprint = (token: string): string => `sha256:${createHash("sha256").update(token).digest("hex").slice(0, 12)}`;

function decodeHash(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export function createCacheServer(options: CacheServerOptions): Server {
  const log = options.log ?? (() => {});
  const { storage, maxBytes, metrics } = options;
  const maxUnpackedBytes = options.maxUnpackedBytes ?? UNPACKED_PER_BYTE * maxBytes;
  const handle: RequestListener = async (req, res) => {
    if (metrics) res.once("finish", () => metrics.answered(req.method ?? "", res.statusCode));
    const started = Date.now();
    const url = new URL(req.url ?? "/", "http://cache");
    const done = (status: number, message: string, extra: Record<string, string> = {}, note = "") => {
      // A refused client may still be sending: drain without keeping, then close the connection.
      const unread = !req.complete;
      if (!res.headersSent) {
        res.writeHead(status, { "Content-Type": "text/plain", ...(unread ? { Connection: "close" } : {}), ...extra });
        res.end(`${message}\n`);
      }
      log(`${req.method} ${url.pathname} ${status} ${Date.now() - started}ms${note}`);
      if (unread) req.resume();
    };
    try {
      if (metrics && url.pathname === "/metrics" && req.method === "GET") {
        const text = await metrics.text();
        res.writeHead(200, { "Content-Type": metrics.contentType });
        res.end(text);
        return;
      }
      const m = /^\/v1\/cache\/([^/]*)$/.exec(url.pathname);
      if (!m) return done(404, "not found: the cache lives under /v1/cache/{hash}");
      const method = req.method ?? "";
      if (!ALLOW.split(", ").includes(method)) return done(405, `${method} is not allowed; use ${ALLOW}`, { Allow: ALLOW });
      const hash = decodeHash(m[1] as string);
      if (hash === undefined || !HASH.test(hash)) return done(400, "bad hash: expected 1 to 128 letters, digits, - or _");
      const access = accessOf(req, options);
      if (access.role === "none") return done(401, "missing or unknown bearer token");

      if (method === "GET" || method === "HEAD") {
        const artifact = await storage.read(hash);
        if (!artifact) {
          metrics?.miss();
          return done(404, "no such artifact");
        }
        metrics?.hit(method === "GET" ? artifact.size : 0);
        res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": artifact.size });
        if (method === "HEAD") {
          artifact.body.destroy();
          res.end();
        } else {
          await pipeline(artifact.body, res);
        }
        log(`${method} ${url.pathname} 200 ${artifact.size}B ${Date.now() - started}ms`);
        return;
      }

      if (method === "DELETE") {
        if (access.role !== "admin") return done(403, "only an admin token may delete");
        const removed = await storage.remove(hash);
        const note = ` ${removed ? "removed" : "nothing to remove"} by admin token ${tokenFingerprint(access.token)}`;
        return removed ? done(200, "removed", {}, note) : done(404, "no such artifact", {}, note);
      }

      // PUT
      if (access.role === "read-only") return done(403, "this token may only read");
      const declared = Number(req.headers["content-length"] ?? NaN);
      if (Number.isFinite(declared) && declared > maxBytes) return done(413, `artifact larger than ${maxBytes} bytes`);
      const upload = await receiveUpload(req, storage.stagingDirectory, { maxBytes, maxUnpackedBytes });
      switch (upload.kind) {
        case "too large":
          return done(413, `artifact larger than ${maxBytes} bytes`);
        case "unpacks too large":
          return done(413, `artifact unpacks to more than ${maxUnpackedBytes} bytes (maxUnpackedBytes)`, {}, ` (unpacks past ${maxUnpackedBytes} bytes)`);
        case "aborted":
          return done(400, "the upload was interrupted", {}, " (client went away)");
        case "not an artifact":
          return done(400, `not an Nx artifact: ${upload.reason}`, {}, ` (${upload.reason})`);
        case "staged": {
          const outcome = await storage.commit(hash, upload.staged);
          if (outcome === "created") metrics?.stored(upload.staged.size);
          return outcome === "created" ? done(200, "stored", {}, ` ${upload.staged.size}B`) : done(409, "cannot override an existing record");
        }
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "";
      if (FULL.has(code)) {
        // The upload's staged file is already gone (upload.ts), so nothing partial holds the space.
        return done(507, `no room in the store (${storage.description}): ${code}; nothing was kept`, {}, ` (${storage.description} is full: ${code})`);
      }
      done(500, "storage error");
      log(`error: ${(e as Error).message}`);
    }
  };
  return options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handle) : createServer(handle);
}
