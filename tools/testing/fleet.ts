/**
 * The builder fleet the fleet tests build on (tools/ci/setup-fleet.sh): a second
 * engine behind sshd on loopback and a third over TCP with TLS client
 * certificates. Missing parts fail the tests with what to run; never skipped.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { execaSync } from "execa";

export interface FleetEngine {
  /** What the plugin's `builders` option says to reach it. */
  readonly builder: Record<string, unknown>;
  /** Its own socket on this machine: how a test asks it what it holds. */
  readonly socket: string;
  readonly pidfile: string;
  /** The secret the test makes sure never leaks: the private key's text. */
  readonly secret: string;
}

export interface Fleet {
  readonly ssh: FleetEngine;
  readonly tls: FleetEngine;
  /** The engine with the containerd image store, for Windows-platform images built by BuildKit on Linux. */
  readonly ociSocket: string;
  readonly setupScript: string;
}

export function requireFleet(env = process.env): Fleet {
  const state = join(env.OBI_STATE_DIR ?? "/var/lib/obi-ci", "fleet");
  const run = env.OBI_FLEET_RUN_DIR ?? "/run/obi-fleet";
  const sshPort = env.OBI_FLEET_SSH_PORT ?? "2222";
  const tlsPort = env.OBI_FLEET_TLS_PORT ?? "2376";
  const files = {
    sshKey: join(state, "ssh/client-key"),
    knownHosts: join(state, "ssh/known_hosts"),
    ca: join(state, "tls/ca.pem"),
    cert: join(state, "tls/client-cert.pem"),
    tlsKey: join(state, "tls/client-key.pem"),
  };
  const problems = Object.entries(files).filter(([, f]) => !existsSync(f)).map(([what, f]) => `${what}: no ${f}`);
  for (const name of ["ssh-engine", "tls-engine", "oci-engine"]) {
    const r = execaSync("docker", ["-H", `unix://${run}/${name}.sock`, "info", "--format", "{{.Name}}"], { reject: false });
    if (r.exitCode !== 0) problems.push(`engine ${name} does not answer on ${run}/${name}.sock`);
  }
  if (problems.length > 0) throw new Error(`the fleet tests need the fleet; run tools/ci/setup-fleet.sh as root. Missing:\n- ${problems.join("\n- ")}`);
  const secretOf = (file: string) => readFileSync(file, "utf8");
  return {
    ssh: {
      builder: { kind: "ssh", host: `ssh://root@127.0.0.1:${sshPort}`, keyFile: files.sshKey, knownHostsFile: files.knownHosts, slots: 2 },
      socket: `unix://${run}/ssh-engine.sock`,
      pidfile: join(run, "ssh-engine.pid"),
      secret: secretOf(files.sshKey),
    },
    tls: {
      builder: { kind: "tls", host: `tcp://127.0.0.1:${tlsPort}`, caFile: files.ca, certFile: files.cert, keyFile: files.tlsKey, slots: 2 },
      socket: `unix://${run}/tls-engine.sock`,
      pidfile: join(run, "tls-engine.pid"),
      secret: secretOf(files.tlsKey),
    },
    ociSocket: `unix://${run}/oci-engine.sock`,
    setupScript: join(__dirname, "../ci/setup-fleet.sh"),
  };
}

/** The repository:tag names an engine holds (an engine built with the docker driver keeps what it pushed). */
export function imagesOn(socket: string): string[] {
  const r = execaSync("docker", ["-H", socket, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
  return r.stdout.split("\n").filter(Boolean);
}

/**
 * Lines of a private key worth searching for: its base64 body without the first line,
 * which every key of its kind shares (the format's header), so only this key's bytes match.
 */
export const secretLines = (secret: string): string[] => secret.split("\n").filter((l) => l.length >= 40 && !l.startsWith("-----")).slice(1);
