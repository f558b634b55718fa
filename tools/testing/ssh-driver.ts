/**
 * A process that reaches a builder as a build does (connectBuilder, then docker
 * commands with the connection's environment), for the SSH connection suite to
 * run where /dev/shm is mounted noexec, as in a container:
 *   node -r @swc-node/register ssh-driver.ts '<builder spec as JSON: paths only>' [commands]
 * Prints one JSON object: the connection's folder, each command's exit code and
 * first line of output, what ssh says of its shared connection, and what is left
 * once the connection is closed.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { delimiter } from "node:path";
import { connectBuilder, realRunner, type BuilderSpec } from "../../libs/docker/src";

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function main(): Promise<void> {
  const [specText = "{}", count = "2"] = process.argv.slice(2);
  const spec = JSON.parse(specText) as BuilderSpec;
  const connection = connectBuilder(spec);
  const dir = (connection.env.PATH ?? "").split(delimiter)[0] ?? "";
  const runner = realRunner({ idleMs: 60_000, totalMs: 120_000 });
  const commands: { exitCode: number; said: string }[] = [];
  for (let i = 0; i < Number(count); i++) {
    const r = await runner.run("docker", ["version", "--format", "{{.Server.Os}}"], { env: connection.env });
    commands.push({ exitCode: r.exitCode, said: (r.stdout.trim() || r.stderr.trim()).split("\n")[0] ?? "" });
  }
  // ssh's own answer about the shared connection, through the connection's own ssh.
  const { hostname: host, port, username: user } = new URL(spec.kind === "ssh" ? spec.host : "ssh://none");
  const check = await runner.run("ssh", ["-O", "check", ...(port ? ["-p", port] : []), `${user}@${host}`], { env: connection.env });
  const master = Number(/pid=(\d+)/.exec(check.stderr + check.stdout)?.[1] ?? 0);
  const mode = (statSync(dir).mode & 0o777).toString(8);
  const files = readdirSync(dir).sort();
  connection.close();
  // The shared connection goes with the connection: wait a little for it to exit.
  for (let end = Date.now() + 10_000; master && alive(master) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
  process.stdout.write(
    `${JSON.stringify({ dir, mode, files, commands, master, masterSaid: (check.stderr + check.stdout).trim(), dirLeft: existsSync(dir), masterLeft: master ? alive(master) : false })}\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(2);
});
