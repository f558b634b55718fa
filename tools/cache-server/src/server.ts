/**
 * A remote cache server for Nx's self-hosted cache protocol:
 *   GET /v1/cache/{hash}  → 200 with the artifact, or 404
 *   PUT /v1/cache/{hash}  → 200 stored, 409 already stored (write-once), 413 too large
 * Every request needs `Authorization: Bearer <token>`: a read-write token may
 * do both, a read-only token (for pull requests) only GET (403 otherwise);
 * no token or an unknown one is 401. Hashes are checked, so no path can escape.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { timingSafeEqual } from "node:crypto";
import type { ArtifactStorage } from "./storage";

export interface CacheServerOptions {
  readonly storage: ArtifactStorage;
  readonly readWriteTokens: readonly string[];
  readonly readOnlyTokens: readonly string[];
  /** Largest artifact accepted, in bytes. */
  readonly maxBytes: number;
  readonly log?: (line: string) => void;
}

const HASH = /^[A-Za-z0-9_-]{1,128}$/;

function sameToken(given: string, known: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(known);
  return a.length === b.length && timingSafeEqual(a, b);
}

type Access = "read-write" | "read-only" | "none";

function accessOf(req: IncomingMessage, options: CacheServerOptions): Access {
  const header = req.headers.authorization ?? "";
  const m = /^Bearer (.+)$/.exec(header);
  if (!m) return "none";
  const token = m[1] as string;
  if (options.readWriteTokens.some((t) => sameToken(token, t))) return "read-write";
  if (options.readOnlyTokens.some((t) => sameToken(token, t))) return "read-only";
  return "none";
}

function answer(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "Content-Type": "text/plain" });
  res.end(`${message}\n`);
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | "too-large"> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return "too-large";
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function createCacheServer(options: CacheServerOptions): Server {
  const log = options.log ?? (() => {});
  return createServer(async (req, res) => {
    const started = Date.now();
    const url = new URL(req.url ?? "/", "http://cache");
    const done = (status: number, message: string) => {
      answer(res, status, message);
      log(`${req.method} ${url.pathname} ${status} ${Date.now() - started}ms`);
    };
    try {
      const m = /^\/v1\/cache\/([^/]*)$/.exec(url.pathname);
      if (!m) return done(404, "not found: the cache lives under /v1/cache/{hash}");
      const hash = decodeURIComponent(m[1] as string);
      if (!HASH.test(hash)) return done(400, "bad hash");
      const access = accessOf(req, options);
      if (access === "none") return done(401, "missing or unknown bearer token");
      if (req.method === "GET") {
        const artifact = await options.storage.get(hash);
        if (!artifact) return done(404, "no such artifact");
        res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": artifact.length });
        res.end(artifact);
        log(`GET ${url.pathname} 200 ${artifact.length}B ${Date.now() - started}ms`);
        return;
      }
      if (req.method === "PUT") {
        if (access !== "read-write") return done(403, "this token may only read");
        const declared = Number(req.headers["content-length"] ?? NaN);
        if (Number.isFinite(declared) && declared > options.maxBytes) {
          req.resume();
          return done(413, `artifact larger than ${options.maxBytes} bytes`);
        }
        const body = await readBody(req, options.maxBytes);
        if (body === "too-large") return done(413, `artifact larger than ${options.maxBytes} bytes`);
        const outcome = await options.storage.putIfAbsent(hash, body);
        return outcome === "created" ? done(200, "stored") : done(409, "cannot override an existing record");
      }
      return done(405, "only GET and PUT");
    } catch (e) {
      done(500, "storage error");
      log(`error: ${(e as Error).message}`);
    }
  });
}
