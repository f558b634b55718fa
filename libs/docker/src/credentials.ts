/**
 * Registry credentials: a username and a password file (like upstream's
 * /run/secrets/ocurrent-hub), or what an earlier `docker login` stored.
 * The password is read when needed, kept in memory, and written only into a
 * private, temporary docker config for the commands that need it, in a
 * secret folder (secretDir) that no crash leaves behind for long.
 */
import { accessSync, constants, existsSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { ownedDir, type OwnedDir } from "./owned-dirs";
import type { Credentials } from "./registry";

/** What reading a password file needs: who, and which file (RegistryAuth, below, adds where it goes). */
export type CredentialSource = Pick<RegistryAuth, "username" | "passwordFile">;

export class CredentialsError extends Error {}

/** The user's docker config folder (DOCKER_CONFIG or ~/.docker). */
export const userDockerConfig = (env = process.env): string => env.DOCKER_CONFIG || join(homedir(), ".docker");

/** Credentials from a password file, or undefined when none is configured. */
export function readCredentials(source: CredentialSource): Credentials | undefined {
  if (!source.passwordFile) return undefined;
  if (!source.username) throw new CredentialsError("a registry password file is configured but no username");
  let password: string;
  try {
    password = readFileSync(source.passwordFile, "utf8").trim();
  } catch (e) {
    throw new CredentialsError(`cannot read the registry password file ${source.passwordFile}: ${(e as NodeJS.ErrnoException).code}`);
  }
  if (!password) throw new CredentialsError(`the registry password file ${source.passwordFile} is empty`);
  return { username: source.username, password };
}

/** Credentials an earlier `docker login` stored in the user's config (plain `auths` entries only). */
export function storedCredentials(server: string, env = process.env): Credentials | undefined {
  const file = join(userDockerConfig(env), "config.json");
  if (!existsSync(file)) return undefined;
  try {
    const config = JSON.parse(readFileSync(file, "utf8")) as { auths?: Record<string, { auth?: string }> };
    const auth = config.auths?.[server]?.auth ?? config.auths?.[`https://${server}`]?.auth;
    if (!auth) return undefined;
    const decoded = Buffer.from(auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    return colon > 0 ? { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) } : undefined;
  } catch {
    return undefined;
  }
}

/** The key docker's config uses for a registry (Docker Hub keeps its historical one). */
export const dockerConfigKey = (registry: string): string => (registry === "registry-1.docker.io" ? "https://index.docker.io/v1/" : registry);

/** Where a registry login comes from: a password file for one registry, and the user's own `docker login`s. */
export interface RegistryAuth {
  /** The one registry the password file's credentials are for. */
  readonly server: string;
  readonly username?: string;
  readonly passwordFile?: string;
}

/**
 * Credentials per registry, each given only to the registry it is for: the
 * password file's to `auth.server` alone; any other registry (Docker Hub, quay,
 * their token services) gets at most what the user's own `docker login` stored for it.
 */
export function scopedCredentials(auth: RegistryAuth, env = process.env): { readonly fromFile?: Credentials; forRegistry(registry: string): Credentials | undefined } {
  const fromFile = readCredentials(auth);
  return {
    ...(fromFile ? { fromFile } : {}),
    forRegistry: (registry) => (registry === auth.server && fromFile) || storedCredentials(dockerConfigKey(registry), env),
  };
}

/**
 * Where secret folders may live, best first: a RAM-backed tmpfs when there is one (never
 * written to a disk: XDG_RUNTIME_DIR, /dev/shm), then the temporary folder.
 */
export function secretsParents(env = process.env): string[] {
  const tmpfs = [env.XDG_RUNTIME_DIR, "/dev/shm"].filter((dir): dir is string => {
    try {
      return Boolean(dir) && statSync(dir as string).isDirectory();
    } catch {
      return false;
    }
  });
  const uid = process.getuid?.() ?? "user";
  return [...new Set([...tmpfs, tmpdir()])].map((dir) => join(dir, `obi-secrets-${uid}`));
}

/** Where secret folders live: the first of secretsParents. */
export const secretsParent = (env = process.env): string => secretsParents(env)[0] as string;

/**
 * Whether a program written in `dir` may run there. A filesystem mounted noexec (/dev/shm
 * in every container docker starts) refuses access(X_OK) as it refuses exec, and so does
 * Go's exec.LookPath: docker would pass over a program there for the next one on PATH.
 */
function runsPrograms(dir: string): boolean {
  const probe = join(dir, "probe");
  writeFileSync(probe, "#!/bin/sh\n", { mode: 0o700 });
  try {
    accessSync(probe, constants.X_OK);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { force: true });
  }
}

/**
 * A private folder (0700) for secret files that must not outlive this process —
 * a docker config with a password, an SSH key, TLS client certificates. It is on
 * tmpfs when the machine has one, named after its owner process, removed by
 * `dispose()` or at exit, and, if the process was killed, by the next call of
 * secretDir in any process once the owner is gone. Write files in it with mode 0600.
 * With `programs`, it is the first place where a program it holds may run (an `ssh`
 * for docker to find on PATH): a noexec tmpfs is passed over for the next place.
 */
export function secretDir(purpose: string, opts: { readonly programs?: boolean } = {}): OwnedDir {
  if (!opts.programs) return ownedDir(secretsParent(), purpose);
  const parents = secretsParents();
  for (const parent of parents) {
    const dir = ownedDir(parent, purpose);
    if (runsPrograms(dir.path)) return dir;
    dir.dispose();
  }
  throw new CredentialsError(`no folder where a program may run for ${purpose} (tried ${parents.join(", ")}: each is mounted noexec)`);
}

export interface TemporaryDockerConfig {
  /** Pass as DOCKER_CONFIG to docker commands. */
  readonly env: Readonly<Record<string, string>>;
  dispose(): void;
}

/**
 * A private docker config (mode 0700) holding only these credentials, with the
 * user's buildx builders and contexts linked in so named builders still work.
 */
export function temporaryDockerConfig(server: string, credentials: Credentials, env = process.env): TemporaryDockerConfig {
  const secrets = secretDir("docker-config");
  const dir = secrets.path;
  const user = userDockerConfig(env);
  for (const shared of ["buildx", "contexts", "cli-plugins"]) {
    if (existsSync(join(user, shared))) symlinkSync(join(user, shared), join(dir, shared));
  }
  const auth = Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64");
  writeFileSync(join(dir, "config.json"), JSON.stringify({ auths: { [server]: { auth } } }), { mode: 0o600 });
  return { env: { DOCKER_CONFIG: dir }, dispose: secrets.dispose };
}
