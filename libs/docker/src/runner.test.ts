/**
 * What a child command sees of our environment: a `docker` first on PATH that
 * writes out the environment it was given, run through the real runner.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { childEnvironment, CommandError, realRunner } from "./runner";

let dir: string;
const saved = { ...process.env };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "obi-env-shim-"));
  writeFileSync(join(dir, "docker"), `#!/bin/sh\nenv > '${join(dir, "env.txt")}'\n`);
  chmodSync(join(dir, "docker"), 0o755);
});

afterEach(() => {
  process.env = { ...saved };
  rmSync(dir, { recursive: true, force: true });
});

/** The environment the shim was started with, by name. */
const childSaw = (): Map<string, string> =>
  new Map(
    readFileSync(join(dir, "env.txt"), "utf8")
      .split("\n")
      .filter((line) => line.includes("="))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)] as [string, string]),
  );

describe("the environment of child commands", () => {
  it("passes docker what it needs and nothing that looks like a secret", async () => {
    process.env.PATH = `${dir}:${saved.PATH ?? ""}`;
    process.env.NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN = "nx-cache-token-value";
    process.env.NX_CLOUD_ACCESS_TOKEN = "nx-cloud-token-value";
    process.env.GITHUB_TOKEN = "github-token-value";
    process.env.DOCKER_PASSWORD = "docker-password-value";
    process.env.OBI_REGISTRY_PASSWORD_FILE = "/run/secrets/registry";
    process.env.AWS_SECRET_ACCESS_KEY = "aws-secret-value";
    process.env.SOME_UNRELATED_SETTING = "unrelated";
    process.env.DOCKER_HOST = "unix:///var/run/docker.sock";
    process.env.BUILDX_BUILDER = "ocaml-arm64";
    process.env.SSH_AUTH_SOCK = "/tmp/agent.sock";
    process.env.https_proxy = "http://proxy.example:3128";
    const result = await realRunner().run("docker", ["version"], { env: { DOCKER_CONFIG: "/private/config" } });
    expect(result.exitCode).toBe(0);
    const seen = childSaw();
    for (const name of [
      "NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN",
      "NX_CLOUD_ACCESS_TOKEN",
      "GITHUB_TOKEN",
      "DOCKER_PASSWORD",
      "OBI_REGISTRY_PASSWORD_FILE",
      "AWS_SECRET_ACCESS_KEY",
      "SOME_UNRELATED_SETTING",
    ]) {
      expect(seen.has(name), name).toBe(false);
    }
    const text = readFileSync(join(dir, "env.txt"), "utf8");
    for (const value of ["nx-cache-token-value", "github-token-value", "docker-password-value", "aws-secret-value"]) expect(text).not.toContain(value);
    expect(seen.get("PATH")).toBe(process.env.PATH);
    expect(seen.get("HOME")).toBe(process.env.HOME);
    expect(seen.get("DOCKER_HOST")).toBe("unix:///var/run/docker.sock");
    expect(seen.get("BUILDX_BUILDER")).toBe("ocaml-arm64");
    expect(seen.get("SSH_AUTH_SOCK")).toBe("/tmp/agent.sock");
    expect(seen.get("https_proxy")).toBe("http://proxy.example:3128");
    expect(seen.get("DOCKER_CONFIG")).toBe("/private/config");
  });

  it("lets no allowed family carry a secret-named variable", () => {
    const env = childEnvironment({ BUILDX_BUILDER: "b", BUILDKIT_PROGRESS: "plain", BUILDX_TOKEN: "t", LC_ALL: "C.UTF-8" });
    expect(env).toEqual({ BUILDX_BUILDER: "b", BUILDKIT_PROGRESS: "plain", LC_ALL: "C.UTF-8" });
  });
});

describe("the bounds of a child command", () => {
  /** Whether a process runs (not a zombie). */
  const running = (pid: number): boolean => {
    try {
      return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
      return false;
    }
  };

  it("stops a command that prints nothing for the no-progress bound, with what it started", async () => {
    const pidFile = join(dir, "grandchild.pid");
    const started = Date.now();
    // A shell that starts a silent grandchild and waits for it, like docker does with buildx.
    const result = await realRunner({ idleMs: 700, totalMs: 60_000 }).run("sh", ["-c", `echo working; sleep 30 & echo $! > '${pidFile}'; wait`]);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.ended).toEqual({ kind: "idle", afterMs: 700 });
    const grandchild = Number(readFileSync(pidFile, "utf8"));
    await new Promise((r) => setTimeout(r, 300));
    expect(running(grandchild)).toBe(false);
    const error = new CommandError("sh -c", result);
    expect(error.message).toMatch(/^sh -c printed nothing for 0\.7 s \(the no-progress bound\); stopped/);
  });

  it("lets a command that keeps printing run past the no-progress bound, until the overall bound", async () => {
    const result = await realRunner({ idleMs: 1_000, totalMs: 2_500 }).run("sh", ["-c", "while true; do echo tick; sleep 0.2; done"]);
    expect(result.ended).toEqual({ kind: "overall", afterMs: 2_500 });
    expect(result.stdout.split("\n").filter((l) => l === "tick").length).toBeGreaterThan(8);
  });

  it("says a command killed by someone else's signal was killed, and one that exits by itself, nothing", async () => {
    const killed = await realRunner().run("sh", ["-c", "kill -TERM $$; sleep 5"]);
    expect(killed.ended).toEqual({ kind: "signal", signal: "SIGTERM" });
    const failed = await realRunner().run("sh", ["-c", "exit 3"]);
    expect(failed.ended).toBeUndefined();
    expect(failed.exitCode).toBe(3);
  });
});
