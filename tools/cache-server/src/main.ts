/**
 * Starts the remote cache server.
 *
 *   npm run cache-server -- --config cache-server.json
 *
 * The config file (every field optional but the tokens):
 *   {
 *     "host": "127.0.0.1", "port": 3030,
 *     "storage": { "directory": ".nx-remote-cache" }
 *             or { "registry": "localhost:5000/nx-cache", "username": "obi", "passwordFile": "/run/secrets/registry" },
 *     "readWriteTokenFile": "/run/secrets/nx-cache-rw",   one token per line
 *     "readOnlyTokenFile": "/run/secrets/nx-cache-ro",
 *     "maxBytes": 104857600
 *   }
 * Tokens and passwords are read from files and never printed.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { readCredentials } from "../../../libs/docker/src";
import { createCacheServer } from "./server";
import { directoryStorage, registryStorage, type ArtifactStorage } from "./storage";

const configSchema = z
  .object({
    host: z.string().default("127.0.0.1"),
    port: z.number().int().min(0).max(65535).default(3030),
    storage: z
      .union([
        z.object({ directory: z.string().min(1) }).strict(),
        z.object({ registry: z.string().min(1), username: z.string().optional(), passwordFile: z.string().optional() }).strict(),
      ])
      .default({ directory: ".nx-remote-cache" }),
    readWriteTokenFile: z.string().min(1),
    readOnlyTokenFile: z.string().min(1).optional(),
    maxBytes: z.number().int().positive().default(100 * 1024 * 1024),
  })
  .strict();

export type CacheServerConfig = z.output<typeof configSchema>;

function tokens(file: string | undefined, what: string): string[] {
  if (!file) return [];
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`cannot read the ${what} token file ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
  const list = text.split("\n").map((t) => t.trim()).filter(Boolean);
  if (list.some((t) => t.length < 16)) throw new Error(`${file}: tokens must be at least 16 characters`);
  return list;
}

export function loadConfig(path: string): CacheServerConfig {
  const result = configSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
  if (!result.success) {
    throw new Error(result.error.issues.map((i) => `${path}: ${i.path.join(".") || "(top level)"}: ${i.message}`).join("\n"));
  }
  return result.data;
}

export async function start(config: CacheServerConfig, log: (line: string) => void = console.log) {
  const storage: ArtifactStorage =
    "directory" in config.storage
      ? directoryStorage(resolve(config.storage.directory))
      : registryStorage(config.storage.registry, readCredentials({ username: config.storage.username, passwordFile: config.storage.passwordFile }));
  const readWriteTokens = tokens(config.readWriteTokenFile, "read-write");
  if (readWriteTokens.length === 0) throw new Error(`${config.readWriteTokenFile}: no read-write token`);
  const server = createCacheServer({
    storage,
    readWriteTokens,
    readOnlyTokens: tokens(config.readOnlyTokenFile, "read-only"),
    maxBytes: config.maxBytes,
    log,
  });
  await new Promise<void>((ok, fail) => server.once("error", fail).listen(config.port, config.host, () => ok()));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  log(`nx remote cache on http://${config.host}:${port}, storing in ${storage.description}, artifacts up to ${config.maxBytes} bytes`);
  return { server, port };
}

if (require.main === module) {
  const { values } = parseArgs({ options: { config: { type: "string", default: "cache-server.json" } } });
  start(loadConfig(values.config)).catch((e: Error) => {
    console.error(`cache server: ${e.message}`);
    process.exitCode = 1;
  });
}
