/**
 * Waits that end: a registry that never answers docker's push stops the build
 * within the command bounds, naming image, arch and builder; a build killed in
 * the middle of a step is not taken for registry trouble, whatever its output says.
 * Real engine and registry, docker's requests through the fault proxy.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAndPush, realRunner } from "../../../libs/docker/src";
import { createDockerWorkspace, dockerFixture, makeTestBase, requireDockerEnvironment, testAlpine, withLogin, type DockerEnvironment } from "../docker";
import { startFaultProxy, type FaultProxy } from "../fault-proxy";
import type { Workspace } from "../workspace";

let env: DockerEnvironment;
let proxy: FaultProxy;
let ws: Workspace;
let path: string;

beforeAll(async () => {
  env = requireDockerEnvironment();
  proxy = await startFaultProxy(env.registry);
  path = `b${Date.now().toString(36)}`;
  await makeTestBase(env, `${env.registry}/${path}/base/alpine:3.23`);
  const prefix = `${proxy.registry}/${path}`;
  const alpine = testAlpine(prefix, "alpine-3.23", "3.23", "3.23", { amd64: "" }, { default: true, aliases: ["alpine"] });
  ws = createDockerWorkspace(env, prefix, dockerFixture([alpine], { releases: ["5.4.1"], variants: [] }), { stagingRepo: `${prefix}/staging` });
}, 600_000);

afterAll(async () => {
  ws?.dispose();
  await proxy?.stop();
});

describe("a staging manifest PUT that is never answered", () => {
  it("stops docker's push within the no-progress bound and fails the build naming image, arch and builder", async () => {
    const staging = `${proxy.registry}/${path}/hang-staging`;
    proxy.inject({ fault: { kind: "hang" }, method: "PUT", path: /\/hang-staging\/manifests\//, times: 1000 });
    const started = Date.now();
    const r = await ws.nx(["run", "alpine-3.23-opam:build-amd64", "--outputStyle=static"], {
      OBI_STAGING_REPO: staging,
      OBI_PUBLIC_REPO: `${proxy.registry}/${path}/hang-opam`,
      OBI_COMMAND_IDLE_SECONDS: "8",
      OBI_COMMAND_TIMEOUT_SECONDS: "240",
    });
    const took = Date.now() - started;
    proxy.clear();
    expect(proxy.seen.some((s) => s.fault === "hang"), r.all.slice(-2000)).toBe(true);
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toMatch(
      /alpine-3\.23-opam \(amd64\): build failed: on the default builder: docker buildx build --platform printed nothing for 8 s \(the no-progress bound\); stopped \(OBI_COMMAND_IDLE_SECONDS\)/,
    );
    // The build itself takes a few seconds; the hang adds the 8 s bound and the 5 s grace at most.
    expect(took).toBeLessThan(120_000);
  });
});

/** The processes under ours whose command line holds `word` (found by our own tree, never by name). */
function ourDescendants(word: string): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // Gone meanwhile.
    }
  }
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      try {
        if (readFileSync(`/proc/${child}/cmdline`, "utf8").includes(word)) found.push(child);
      } catch {
        // Gone meanwhile.
      }
      walk(child);
    }
  };
  walk(process.pid);
  return found;
}

describe("docker buildx build killed during a RUN step", () => {
  it("is not retried as registry trouble, though the step printed EOF", async () => {
    const context = mkdtempSync(join(tmpdir(), "obi-kill-context-"));
    // A heredoc's terminator in the step's output: a word the old classification took for a registry fault.
    writeFileSync(
      join(context, "Dockerfile"),
      `FROM ${env.registry}/${path}/base/alpine:3.23\nRUN echo "cat <<EOF"; echo EOF; echo "unexpected EOF ${Date.now()}"; sleep 120\n`,
    );
    const retries: string[] = [];
    let killed = false;
    try {
      const error = await withLogin(env, (dockerEnv) =>
        buildAndPush(
          realRunner(),
          {
            platform: "linux/amd64",
            contextDir: context,
            dockerfile: join(context, "Dockerfile"),
            tags: [`${env.registry}/${path}/killed:amd64`],
            env: dockerEnv,
            onOutput: (line) => {
              if (killed || !/^#\d+ \d+\.\d+ EOF$/.test(line)) return;
              killed = true;
              // The buildx plugin docker started for this build, as a user's kill would find it.
              for (const pid of ourDescendants("docker-buildx")) process.kill(pid, "SIGKILL");
            },
          },
          { policy: { attempts: 3, withinMs: 60_000, firstDelayMs: 100, maxDelayMs: 200, requestTimeoutMs: 5_000 }, onRetry: (line) => retries.push(line) },
        ).then(
          () => undefined,
          (e: unknown) => e as Error,
        ),
      );
      expect(killed).toBe(true);
      expect(error).toBeInstanceOf(Error);
      expect(retries).toEqual([]);
      expect(error?.message).not.toMatch(/failed it|registry/);
      expect(error?.message).toMatch(/^docker buildx build --platform failed \((exit \d+|killed by SIG\w+)\)/);
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
  });
});
