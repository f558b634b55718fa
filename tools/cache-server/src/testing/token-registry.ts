/**
 * A registry that wants bearer tokens, like Docker Hub and GHCR: the real
 * distribution registry (Debian's `docker-registry`, 2.8) with `auth: token`,
 * and a token issuer of ours on loopback that checks a username and password
 * and signs ES256 JWTs with a key and self-signed certificate made for the run.
 *
 * Distribution 2.8 trusts a token whose JWT header carries the signing
 * certificate (`x5c`) when that certificate chains to `rootcertbundle`; the
 * claims must name the configured issuer and service (`iss`, `aud`), be in
 * date (`nbf`, `exp`) and grant the scope's actions in `access`.
 */
import { createPrivateKey, randomBytes, sign, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, execaSync, type ResultPromise } from "execa";
import type { Credentials } from "../../../../libs/docker/src";

const ISSUER = "obi-test-token-issuer";
const SERVICE = "obi-test-registry";

export interface TokenRegistry {
  /** host:port of the registry, on loopback. */
  readonly registry: string;
  readonly credentials: Credentials;
  /** Scopes the issuer was asked for, in order, e.g. `repository:x/y:pull,push`. */
  readonly grantedScopes: readonly string[];
  stop(): Promise<void>;
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

/** Parses `type:name:actions`; names hold no colon but a registry host's, which scopes never carry. */
function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first < 0 || last === first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(",").filter(Boolean) };
}

export async function startTokenRegistry(): Promise<TokenRegistry> {
  const dir = mkdtempSync(join(tmpdir(), "obi-token-registry-"));
  const credentials: Credentials = { username: "cache", password: randomBytes(18).toString("hex") };
  execaSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "1", "-subj", `/CN=${ISSUER}`,
  ]);
  const key = createPrivateKey(readFileSync(join(dir, "key.pem")));
  const certificate = new X509Certificate(readFileSync(join(dir, "cert.pem")));
  const header = base64url(JSON.stringify({ typ: "JWT", alg: "ES256", x5c: [certificate.raw.toString("base64")] }));
  const grantedScopes: string[] = [];
  const expected = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;

  const issuer: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://issuer");
    if (url.pathname !== "/token" || req.headers.authorization !== expected) {
      res.writeHead(401, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ details: "wrong username or password" }));
      return;
    }
    const access = url.searchParams.getAll("scope").flatMap((scope) => {
      grantedScopes.push(scope);
      const parsed = parseScope(scope);
      return parsed ? [parsed] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, sub: credentials.username, aud: SERVICE, iat: now, nbf: now - 10, exp: now + 300, jti: randomBytes(8).toString("hex"), access };
    const payload = `${header}.${base64url(JSON.stringify(claims))}`;
    const signature = sign("sha256", Buffer.from(payload), { key, dsaEncoding: "ieee-p1363" });
    const token = `${payload}.${base64url(signature)}`;
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((ok) => issuer.listen(0, "127.0.0.1", ok));
  const issuerPort = (issuer.address() as AddressInfo).port;

  const port = await freePort();
  writeFileSync(
    join(dir, "config.yml"),
    [
      "version: 0.1",
      "log: { level: warn }",
      "storage:",
      `  filesystem: { rootdirectory: ${join(dir, "data")} }`,
      "  delete: { enabled: true }",
      "http:",
      `  addr: 127.0.0.1:${port}`,
      `  secret: ${randomBytes(16).toString("hex")}`,
      "auth:",
      "  token:",
      `    realm: http://127.0.0.1:${issuerPort}/token`,
      `    service: ${SERVICE}`,
      `    issuer: ${ISSUER}`,
      `    rootcertbundle: ${join(dir, "cert.pem")}`,
      "",
    ].join("\n"),
  );
  const child: ResultPromise = execa("docker-registry", ["serve", join(dir, "config.yml")], { reject: false, all: true, env: { REGISTRY_HTTP_DEBUG_ADDR: "" } });
  let output = "";
  child.all?.on("data", (chunk: Buffer) => (output += chunk.toString()));

  const stop = async () => {
    child.kill("SIGTERM");
    await child;
    await new Promise<void>((ok) => issuer.close(() => ok()));
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready once /v2/ answers with a bearer challenge.
  for (let i = 0; ; i++) {
    const challenge = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.headers.get("www-authenticate"), () => null);
    if (challenge?.startsWith("Bearer ")) break;
    if (i > 100 || child.exitCode !== undefined && child.exitCode !== null) {
      await stop();
      throw new Error(`docker-registry with token auth did not come up on 127.0.0.1:${port}:\n${output.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { registry: `127.0.0.1:${port}`, credentials, grantedScopes, stop };
}
