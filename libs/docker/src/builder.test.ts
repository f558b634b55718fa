/**
 * Asking a builder what it builds: `docker buildx inspect --bootstrap` is tried
 * again (up to 3 tries) on an engine that answered `docker version`, never on one
 * that did not, and a named buildx builder (not asked `docker version`) once.
 * The runner answers as docker did in each case (a bound reached, buildx's
 * own time limit, a listing).
 */
import { describe, expect, it } from "vitest";
import { BuilderError, inspectBuilder, type BuilderSpec, type InspectRetry } from "./builder";
import type { RunOptions, RunResult, Runner } from "./runner";

const LISTING = "Name:          default\nDriver:        docker\n\nNodes:\nName:             default\nStatus:           running\nPlatforms:        linux/arm64, linux/amd64*\n";
const TIMED_OUT: RunResult = { exitCode: 1, stdout: "", stderr: "ERROR: context deadline exceeded\n" };
const BOUND: RunResult = { exitCode: 143, stdout: "", stderr: "", ended: { kind: "overall", afterMs: 60_000 } };
const OK_VERSION: RunResult = { exitCode: 0, stdout: "linux/amd64\n", stderr: "" };
const REFUSED: RunResult = { exitCode: 1, stdout: "", stderr: "Cannot connect to the Docker daemon at tcp://127.0.0.1:2376. Is the docker daemon running?\n" };
const FAST: InspectRetry = { tries: 3, pausesMs: [1, 1], tryMs: 60_000 };

/** Answers each command with the next of its answers, and keeps what it was asked. */
function answering(answers: Record<"version" | "inspect", RunResult[]>): Runner & { asked: { args: readonly string[]; options?: RunOptions }[] } {
  const asked: { args: readonly string[]; options?: RunOptions }[] = [];
  return {
    dryRun: false,
    asked,
    async run(_command, args, options) {
      asked.push({ args, ...(options ? { options } : {}) });
      const kind = args[0] === "version" ? "version" : args[0] === "buildx" ? "inspect" : undefined;
      if (!kind) return { exitCode: 0, stdout: "", stderr: "" };
      const next = answers[kind].shift();
      if (!next) throw new Error(`asked ${args.join(" ")} once too often`);
      return next;
    },
  };
}

const SSH: BuilderSpec = { kind: "ssh", host: "ssh://root@127.0.0.1:2222", keyFile: "/k", knownHostsFile: "/h" };
const connection = { env: { DOCKER_HOST: "ssh://root@127.0.0.1:2222" }, buildxArgs: [], close: () => {} };
const inspects = (runner: ReturnType<typeof answering>) => runner.asked.filter((a) => a.args[0] === "buildx");

describe("asking a builder what it builds", () => {
  it("tries buildx inspect --bootstrap again on an engine that answered docker version, saying so each time", async () => {
    const runner = answering({ version: [OK_VERSION], inspect: [BOUND, TIMED_OUT, { exitCode: 0, stdout: LISTING, stderr: "" }] });
    const said: string[] = [];
    const facts = await inspectBuilder(runner, SSH, connection, "buildkit", {}, (line) => said.push(line), FAST);
    expect(facts.platforms).toEqual(["linux/arm64", "linux/amd64"]);
    expect(inspects(runner).map((a) => a.args)).toEqual(Array(3).fill(["buildx", "inspect", "--bootstrap"]));
    expect(said).toEqual([
      "ssh://root@127.0.0.1:2222 answered docker version, but docker buildx inspect did not (docker buildx inspect still running after 60 s (the overall bound); stopped); trying again in 0.001 s (try 2 of 3)",
      "ssh://root@127.0.0.1:2222 answered docker version, but docker buildx inspect did not (context deadline exceeded); trying again in 0.001 s (try 3 of 3)",
    ]);
    // Each try is bounded.
    for (const a of inspects(runner)) expect(a.options?.bounds).toEqual({ idleMs: 60_000, totalMs: 60_000 });
  });

  it("gives up after 3 tries with the last cause in one line", async () => {
    const runner = answering({ version: [OK_VERSION], inspect: [TIMED_OUT, TIMED_OUT, { exitCode: 0, stdout: "Error: dial tcp 127.0.0.1:2376: i/o timeout\n", stderr: "" }] });
    const error = await inspectBuilder(runner, SSH, connection, "buildkit", {}, () => {}, FAST).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuilderError);
    expect((error as Error).message).toBe("dial tcp 127.0.0.1:2376: i/o timeout");
    expect(inspects(runner)).toHaveLength(3);
  });

  it("never asks buildx of an engine that did not answer docker version", async () => {
    const runner = answering({ version: [REFUSED], inspect: [] });
    const said: string[] = [];
    await expect(inspectBuilder(runner, SSH, connection, "buildkit", {}, (l) => said.push(l), FAST)).rejects.toThrow(/^Cannot connect to the Docker daemon at tcp:\/\/127\.0\.0\.1:2376/);
    expect(inspects(runner)).toHaveLength(0);
    expect(said).toEqual([]);
  });

  it("asks a named buildx builder once: no docker version vouched for it", async () => {
    const runner = answering({ version: [], inspect: [TIMED_OUT] });
    const spec: BuilderSpec = { kind: "buildx", name: "ocaml-arm64" };
    await expect(inspectBuilder(runner, spec, { env: {}, buildxArgs: ["--builder", "ocaml-arm64"], close: () => {} }, "buildkit", {}, () => {}, FAST)).rejects.toThrow("context deadline exceeded");
    expect(runner.asked.map((a) => a.args)).toEqual([["buildx", "inspect", "--bootstrap", "--builder", "ocaml-arm64"]]);
  });
});
