/**
 * An SSH builder's connection where /dev/shm is mounted noexec, as it is in every
 * container docker starts (a swarm service's too): docker runs the `ssh` of the
 * connection's private folder, which must then be somewhere a program can run.
 * The connection runs in a private mount namespace (unshare) whose /dev/shm is a
 * fresh noexec tmpfs, against the fleet's SSH engine (tools/ci/setup-fleet.sh),
 * and once on the machine as it is, where /dev/shm stays the place. Its docker
 * commands share one ssh connection (a ControlMaster), closed with the connection.
 */
import { join } from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { requireFleet, type Fleet } from "../fleet";
import { PROJECT_ROOT } from "../workspace";

interface DriverReport {
  dir: string;
  mode: string;
  files: string[];
  commands: { exitCode: number; said: string }[];
  master: number;
  masterSaid: string;
  dirLeft: boolean;
  masterLeft: boolean;
}

let fleet: Fleet;
const DRIVER = join(PROJECT_ROOT, "tools/testing/ssh-driver.ts");

/** Runs the driver, in a mount namespace whose /dev/shm is noexec when `noexecShm`. */
async function drive(noexecShm: boolean, commands = 2): Promise<DriverReport> {
  const node = ["node", "-r", "@swc-node/register", DRIVER, JSON.stringify(fleet.ssh.builder), String(commands)];
  const quoted = node.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(" ");
  const [command, args] = noexecShm
    ? ["unshare", ["--mount", "--propagation", "private", "sh", "-c", `mount -t tmpfs -o noexec,nosuid,nodev,mode=1777 tmpfs /dev/shm && exec ${quoted}`]]
    : [node[0] as string, node.slice(1)];
  // No XDG_RUNTIME_DIR: /dev/shm is the first place the connection looks.
  const env = { ...process.env };
  delete env.XDG_RUNTIME_DIR;
  const r = await execa(command, args, { cwd: PROJECT_ROOT, env, extendEnv: false, reject: false, all: true, timeout: 120_000 });
  expect(r.exitCode, r.all).toBe(0);
  return JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}") as DriverReport;
}

beforeAll(() => {
  fleet = requireFleet();
});

describe("an SSH builder's connection", () => {
  it("reaches the engine with its own key where /dev/shm is noexec, from a private folder it removes", async () => {
    const report = await drive(true);
    expect(report.commands, JSON.stringify(report)).toEqual([
      { exitCode: 0, said: "linux" },
      { exitCode: 0, said: "linux" },
    ]);
    expect(report.dir.startsWith("/dev/shm/")).toBe(false);
    expect(report.mode).toBe("700");
    expect(report.dirLeft).toBe(false);
  });

  it("shares one ssh connection between its docker commands, with its socket in the private folder, and closes it", async () => {
    const report = await drive(true, 3);
    expect(report.commands.map((c) => c.exitCode), JSON.stringify(report)).toEqual([0, 0, 0]);
    // ssh's own word: one master, reached through the socket the connection's config names.
    expect(report.masterSaid).toMatch(/^Master running \(pid=\d+\)$/);
    expect(report.master).toBeGreaterThan(0);
    expect(report.files).toContain("control");
    expect(report.masterLeft).toBe(false);
    expect(report.dirLeft).toBe(false);
  });

  it("keeps its folder on /dev/shm (tmpfs) where programs may run there", async () => {
    const report = await drive(false, 1);
    expect(report.commands).toEqual([{ exitCode: 0, said: "linux" }]);
    expect(report.dir.startsWith("/dev/shm/")).toBe(true);
    expect(report.mode).toBe("700");
    expect(report.dirLeft).toBe(false);
  });
});
