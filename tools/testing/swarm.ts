/**
 * A single-node swarm on the CI engine for the deployment test, and everything it
 * leaves to clean: the stack's services, containers, volumes and secrets, the
 * swarm itself, and the networks a swarm makes (ingress, docker_gwbridge).
 * The swarm's node carries a label naming the test process that made it, so a
 * later run tells a crashed run's swarm (removed) from a live run's or someone
 * else's (refused, never left). Every docker command and every wait is bounded.
 */
import { execa } from "execa";
import { childEnvironment, currentOwner, ownerAlive, ownerOf, ownerTag } from "../../libs/docker/src";

/** The node label that says which test process made the swarm. */
export const SWARM_LABEL = "obi.deployment-test.owner";

export interface DockerResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A docker command, bounded (killed past `timeoutMs`), its input on stdin. */
export async function docker(args: readonly string[], opts: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<DockerResult> {
  const r = await execa("docker", [...args], {
    reject: false,
    input: opts.input ?? "",
    timeout: opts.timeoutMs ?? 120_000,
    forceKillAfterDelay: 2_000,
    // What docker needs of ours (PATH, HOME, DOCKER_*), and what the caller adds: nothing else of this process's.
    env: childEnvironment(process.env, opts.env ?? {}),
    extendEnv: false,
  });
  return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: r.timedOut ? `docker ${args[0]} ${args[1] ?? ""}: no answer within ${opts.timeoutMs ?? 120_000} ms` : String(r.stderr) };
}

/** A docker command that must succeed; its error names the command (never its input). */
export async function dockerOk(args: readonly string[], opts: Parameters<typeof docker>[1] = {}): Promise<string> {
  const r = await docker(args, opts);
  if (r.exitCode !== 0) throw new Error(`docker ${args.slice(0, 3).join(" ")} failed: ${r.stderr.trim().split("\n").slice(-3).join(" / ")}`);
  return r.stdout;
}

const lines = (text: string): string[] => text.split("\n").map((l) => l.trim()).filter(Boolean);

/** Waits until `check` gives a value (not undefined), looking every `everyMs`; fails past `boundMs` with `what` and the last state seen. */
export async function until<T>(what: string, boundMs: number, check: () => Promise<T | undefined>, everyMs = 2_000, state: () => string = () => ""): Promise<T> {
  const end = Date.now() + boundMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`${what}: not within ${boundMs / 1000} s${state() ? `; last seen: ${state()}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const swarmState = async (): Promise<string> => (await dockerOk(["info", "--format", "{{.Swarm.LocalNodeState}}"])).trim();

/** The containers of a stack (any state). */
export const stackContainers = async (stack: string): Promise<string[]> =>
  lines(await dockerOk(["ps", "-a", "-q", "--filter", `label=com.docker.stack.namespace=${stack}`]));

/** The volumes of a stack (named `<stack>_<volume>`). */
export const stackVolumes = async (stack: string): Promise<string[]> =>
  lines(await dockerOk(["volume", "ls", "-q", "--filter", `name=${stack}_`])).filter((v) => v.startsWith(`${stack}_`));

/** Networks a swarm or the stack made. */
export const swarmNetworks = async (stack: string): Promise<string[]> =>
  lines(await dockerOk(["network", "ls", "--format", "{{.Name}}"])).filter((n) => n === "ingress" || n === "docker_gwbridge" || n.startsWith(`${stack}_`));

/**
 * Makes a single-node swarm on loopback, labelled as this process's. An engine in
 * a swarm already is refused unless that swarm is a crashed test run's (then it is
 * cleaned first).
 */
export async function makeSwarm(stack: string, secretNames: readonly string[]): Promise<void> {
  if ((await swarmState()) !== "inactive") {
    const label = (await docker(["node", "inspect", "self", "--format", `{{index .Spec.Labels "${SWARM_LABEL}"}}`])).stdout.trim();
    const owner = label ? ownerOf(`${label}-`) : undefined;
    if (!owner) throw new Error("this engine is in a swarm the deployment test did not make; leave it (docker swarm leave --force) or run the test on another engine");
    if (ownerAlive(owner)) throw new Error(`another deployment test (pid ${owner.pid}) is using this engine's swarm; run one at a time`);
  }
  await removeEverything(stack, secretNames);
  await dockerOk(["swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377"], { timeoutMs: 120_000 });
  const node = (await dockerOk(["info", "--format", "{{.Swarm.NodeID}}"])).trim();
  await dockerOk(["node", "update", "--label-add", `${SWARM_LABEL}=${ownerTag(currentOwner())}`, node]);
}

/**
 * Removes the stack, its containers, volumes and the secrets, leaves the swarm and
 * removes the networks it made. Safe to run when any part is already gone; throws
 * when something could not be removed within its bound.
 */
export async function removeEverything(stack: string, secretNames: readonly string[]): Promise<void> {
  const problems: string[] = [];
  if ((await swarmState()) === "active") {
    await docker(["stack", "rm", stack], { timeoutMs: 120_000 });
    // stack rm returns at once; its containers stop after.
    await until(`the containers of stack ${stack} to go`, 120_000, async () => ((await stackContainers(stack)).length === 0 ? true : undefined)).catch((e: Error) => problems.push(e.message));
    for (const name of secretNames) {
      const r = await docker(["secret", "rm", name]);
      if (r.exitCode !== 0 && !/not found/i.test(r.stderr)) problems.push(`secret ${name}: ${r.stderr.trim()}`);
    }
  }
  // Containers of a stack whose swarm is gone (a crash before stack rm) are stopped and removed.
  const left = await stackContainers(stack);
  if (left.length > 0) await docker(["rm", "-f", "-v", ...left], { timeoutMs: 120_000 });
  if ((await swarmState()) !== "inactive") {
    const r = await docker(["swarm", "leave", "--force"], { timeoutMs: 120_000 });
    if (r.exitCode !== 0) problems.push(`swarm leave: ${r.stderr.trim()}`);
  }
  for (const volume of await stackVolumes(stack)) {
    // A volume is released a moment after its container goes.
    await until(`volume ${volume} to be removed`, 60_000, async () => ((await docker(["volume", "rm", volume])).exitCode === 0 ? true : undefined), 1_000).catch((e: Error) => problems.push(e.message));
  }
  for (const network of await swarmNetworks(stack)) {
    // ingress goes with the swarm, a moment after leaving; docker_gwbridge stays until removed.
    await until(`network ${network} to be removed`, 60_000, async () => {
      if (!(await swarmNetworks(stack)).includes(network)) return true;
      return (await docker(["network", "rm", network])).exitCode === 0 ? true : undefined;
    }, 1_000).catch((e: Error) => problems.push(e.message));
  }
  if (problems.length > 0) throw new Error(`left behind:\n- ${problems.join("\n- ")}`);
}
