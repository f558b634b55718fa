/**
 * Starts the remote cache server.
 *
 *   npm run cache-server -- --config cache-server.json
 *
 * See USAGE below for the config file. Tokens and passwords are read from
 * files and never printed; a mistake in the flags or the file is one line
 * naming the file, the field and the bad value.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { readCredentials } from "../../../libs/docker/src";
import { cacheMetrics } from "./metrics";
import { createCacheServer, UNPACKED_PER_BYTE } from "./server";
import { directoryStorage, registryStorage, type ArtifactStorage } from "./storage";

const USAGE = `usage: npm run cache-server -- [--config FILE]

Serves Nx's self-hosted remote cache (GET/PUT/DELETE /v1/cache/{hash}),
and Prometheus's scrape on GET /metrics (counts only; no token).
  --config FILE   the config file (default cache-server.json)
  --help          this text

The config file (JSON; every field optional but readWriteTokenFile):
  "host": "127.0.0.1", "port": 3030,                  plain HTTP stays on loopback unless host says otherwise
  "tls": { "certFile": "/run/secrets/cache.crt", "keyFile": "/run/secrets/cache.key" },
                                                      serve HTTPS (PEM: the certificate chain, and its key)
  "storage": { "directory": ".nx-remote-cache", "maxTotalBytes": 10737418240, "maxAgeDays": 30 }
          or { "registry": "localhost:5000/nx-cache", "username": "obi", "passwordFile": "/run/secrets/registry" },
  "readWriteTokenFile": "/run/secrets/nx-cache-rw",   one token per line, 16 characters or more
  "readOnlyTokenFile": "/run/secrets/nx-cache-ro",
  "adminTokenFile": "/run/secrets/nx-cache-admin",    may also DELETE /v1/cache/{hash}
  "maxBytes": 104857600                               the largest artifact
  "maxUnpackedBytes": 419430400                       the most an artifact may unpack to (default 4 × maxBytes)
A directory store over maxTotalBytes drops the least recently read artifacts;
artifacts stored more than maxAgeDays ago are dropped.`;

const DAY_MS = 24 * 60 * 60 * 1000;
const DEFAULT_MAX_BYTES = 100 * 1024 * 1024;

const directorySchema = z
  .object({
    directory: z.string().min(1),
    maxTotalBytes: z.number().int().positive().optional(),
    maxAgeDays: z.number().positive().optional(),
  })
  .strict();
const registrySchema = z
  .object({ registry: z.string().min(1), username: z.string().min(1).optional(), passwordFile: z.string().min(1).optional() })
  .strict();

const tlsSchema = z.object({ certFile: z.string().min(1), keyFile: z.string().min(1) }).strict();

const configSchema = z
  .object({
    host: z.string().min(1).default("127.0.0.1"),
    port: z.number().int().min(0).max(65535).default(3030),
    tls: tlsSchema.optional(),
    // Told apart by their key, so a mistake is reported against the shape meant.
    storage: z
      .custom<Record<string, unknown>>((v) => typeof v === "object" && v !== null && !Array.isArray(v), { message: "expected an object" })
      .pipe(z.union([directorySchema, registrySchema]))
      .default({ directory: ".nx-remote-cache" }),
    readWriteTokenFile: z.string().min(1),
    readOnlyTokenFile: z.string().min(1).optional(),
    adminTokenFile: z.string().min(1).optional(),
    maxBytes: z.number().int().positive().default(DEFAULT_MAX_BYTES),
    maxUnpackedBytes: z.number().int().positive().optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    const storage = config.storage as { maxTotalBytes?: number };
    if (storage.maxTotalBytes !== undefined && storage.maxTotalBytes < config.maxBytes) {
      ctx.addIssue({ code: "custom", path: ["storage", "maxTotalBytes"], input: storage.maxTotalBytes, message: `must be at least maxBytes (${config.maxBytes})` });
    }
  });

export type CacheServerConfig = z.output<typeof configSchema>;

/** A config mistake: one line, naming the file. */
export class ConfigError extends Error {}

function tokens(file: string | undefined, what: string): string[] {
  if (!file) return [];
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read the ${what} token file ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
  const list = text.split("\n").map((t) => t.trim()).filter(Boolean);
  if (list.some((t) => t.length < 16)) throw new ConfigError(`${file}: tokens must be at least 16 characters`);
  return list;
}

/** Where JSON.parse stopped, as line and column (1-based). */
function jsonErrorPlace(text: string, message: string): string {
  const at = /position (\d+)/.exec(message);
  const offset = at ? Number(at[1]) : text.length;
  const before = text.slice(0, offset).split("\n");
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

/** A bad value worth showing: scalars, cut short; never objects, which may hold what should not be printed. */
function shown(input: unknown): string {
  if (input === undefined || (typeof input === "object" && input !== null)) return "";
  const text = JSON.stringify(input);
  return ` (got ${text.length > 60 ? `${text.slice(0, 60)}…` : text})`;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  // A union's issue is the one of the shape the user meant (directory or registry).
  if (issue.code === "invalid_union" && issue.errors.length > 0) {
    const input = issue.input as Record<string, unknown> | undefined;
    const meant = input && "registry" in input ? 1 : 0;
    const inner = issue.errors[meant]?.[0];
    if (inner) return describeIssue({ ...inner, path: [...issue.path, ...inner.path] });
  }
  const where = issue.path.length ? issue.path.join(".") : "(top level)";
  if (issue.code === "unrecognized_keys") return `${where}: unknown field ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`;
  return `${where}: ${issue.message}${shown(issue.input)}`;
}

export function loadConfig(path: string): CacheServerConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read the config file ${path}: ${(e as NodeJS.ErrnoException).code}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    throw new ConfigError(`${path}: invalid JSON at ${jsonErrorPlace(text, message)}: ${message.replace(/ in JSON at position \d+.*$/, "")}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new ConfigError(`${path}: expected a JSON object at the top level`);
  const result = configSchema.safeParse(json, { reportInput: true });
  if (!result.success) throw new ConfigError(`${path}: ${result.error.issues.map(describeIssue).join("; ")}`);
  return result.data;
}

/** Whether an address is this machine's own: plain HTTP stays there unless the config says otherwise. */
const isLoopbackHost = (host: string): boolean => host === "localhost" || host.startsWith("127.") || host === "::1";

/** The certificate and key files' contents; a file that cannot be read is named with its field. */
function readTls(tls: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  const read = (field: "certFile" | "keyFile") => {
    try {
      return readFileSync(tls[field]);
    } catch (e) {
      throw new ConfigError(`tls.${field}: cannot read ${tls[field]}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  return { cert: read("certFile"), key: read("keyFile") };
}

export async function start(config: CacheServerConfig, log: (line: string) => void = console.log) {
  const readWriteTokens = tokens(config.readWriteTokenFile, "read-write");
  if (readWriteTokens.length === 0) throw new ConfigError(`${config.readWriteTokenFile}: no read-write token`);
  const readOnlyTokens = tokens(config.readOnlyTokenFile, "read-only");
  const adminTokens = tokens(config.adminTokenFile, "admin");
  const tls = config.tls && readTls(config.tls);
  const storage: ArtifactStorage =
    "directory" in config.storage
      ? directoryStorage(resolve(config.storage.directory), {
          retention: {
            ...(config.storage.maxTotalBytes !== undefined ? { maxTotalBytes: config.storage.maxTotalBytes } : {}),
            ...(config.storage.maxAgeDays !== undefined ? { maxAgeMs: config.storage.maxAgeDays * DAY_MS } : {}),
          },
          log,
        })
      : registryStorage(config.storage.registry, readCredentials({ username: config.storage.username, passwordFile: config.storage.passwordFile }));
  const maxUnpackedBytes = config.maxUnpackedBytes ?? UNPACKED_PER_BYTE * config.maxBytes;
  let server;
  try {
    server = createCacheServer({ storage, readWriteTokens, readOnlyTokens, adminTokens, maxBytes: config.maxBytes, maxUnpackedBytes, log, metrics: cacheMetrics(), ...(tls ? { tls } : {}) });
  } catch (e) {
    // A certificate or key that is not PEM, or a key that does not match the certificate.
    storage.close();
    throw new ConfigError(`tls: cannot serve with ${config.tls?.certFile} and ${config.tls?.keyFile}: ${(e as Error).message}`);
  }
  server.once("close", () => storage.close());
  try {
    await new Promise<void>((ok, fail) => server.once("error", fail).listen(config.port, config.host, () => ok()));
  } catch (e) {
    storage.close();
    throw new ConfigError(`cannot listen on ${config.host}:${config.port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const where = config.host.includes(":") ? `[${config.host}]` : config.host;
  log(`nx remote cache on ${tls ? "https" : "http"}://${where}:${port}, storing in ${storage.description}, artifacts up to ${config.maxBytes} bytes (${maxUnpackedBytes} unpacked)`);
  if (!tls) {
    log(
      isLoopbackHost(config.host)
        ? `plain HTTP, on loopback only: set "tls" (and "host") to serve other machines`
        : `plain HTTP on ${config.host}, as the config says: tokens and artifacts cross the network unencrypted; set "tls" to serve HTTPS`,
    );
  }
  return { server, port };
}

function fail(message: string, exitCode: number): never {
  console.error(`cache server: ${message}`);
  process.exit(exitCode);
}

export function main(argv: string[]): void {
  let values: { config?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { config: { type: "string" }, help: { type: "boolean" } }, strict: true, allowPositionals: false }));
  } catch (e) {
    // parseArgs's own message names the flag or argument; its hint about `--` does not apply here.
    fail(`${(e as Error).message.split(". ")[0]} (see --help)`, 2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const configPath = values.config ?? "cache-server.json";
  let config: CacheServerConfig;
  try {
    config = loadConfig(configPath);
  } catch (e) {
    fail((e as Error).message, 1);
  }
  // What start() finds wrong (a token file, a port in use) comes from the config too.
  start(config).catch((e: Error) => fail(`${configPath}: ${e.message}`, 1));
}

if (require.main === module) main(process.argv.slice(2));
