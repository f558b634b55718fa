import { existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildAndPush, registryTrouble } from "./buildx";
import { dryRunner } from "./runner";

/** Where a real build keeps its scratch folders. */
const SCRATCH = join(tmpdir(), "obi-build");

const failed = (stderr: string, extra: Partial<{ stdout: string; ended: { kind: "signal"; signal: string } }> = {}) => ({ exitCode: 1, stdout: extra.stdout ?? "", stderr, ...(extra.ended ? { ended: extra.ended } : {}) });

describe("a failed docker step is registry trouble", () => {
  it("when docker push says the registry refused it (429, 5xx), in docker's own error lines", () => {
    expect(registryTrouble(failed("The push refers to repository [127.0.0.1:5001/x/staging]\ntoomanyrequests: too many requests\n"))).toBe(true);
    expect(registryTrouble(failed("received unexpected HTTP status: 503 Service Unavailable\n"))).toBe(true);
    expect(registryTrouble(failed("Error response from daemon: Get \"http://127.0.0.1:5001/v2/\": connection refused\n"))).toBe(true);
    // What buildx says when the registry answers a manifest PUT with 429 (its error code, no status).
    expect(registryTrouble(failed("#8 ERROR: toomanyrequests: too busy\n------\nERROR: toomanyrequests: too busy\n"))).toBe(true);
    expect(registryTrouble(failed("#14 ERROR: failed to push 127.0.0.1:5001/x/staging:t: unexpected status from PUT request: 500 Internal Server Error\n"))).toBe(true);
  });

  it("never from a build step's own output, nor when the step was killed", () => {
    const step = ["#9 [3/3] RUN <<EOF", "#9 0.112 connection refused EOF", "------", " > [3/3] RUN <<EOF:", "0.112 toomanyrequests: EOF", "------", "   5 | >>> RUN <<EOF"].join("\n");
    expect(registryTrouble(failed(`${step}\nERROR: failed to solve: process "/bin/sh -c cat" did not complete successfully: exit code: 1\n`))).toBe(false);
    expect(registryTrouble(failed(`${step}\n`))).toBe(false);
    expect(registryTrouble(failed("toomanyrequests: too many requests\n", { ended: { kind: "signal", signal: "SIGKILL" } }))).toBe(false);
  });
});

describe("a dry run's build", () => {
  it("says the whole command with no folder of its own in it, and leaves none behind", async () => {
    const before = existsSync(SCRATCH) ? readdirSync(SCRATCH) : [];
    const lines: string[] = [];
    const digest = await buildAndPush(dryRunner((line) => lines.push(line)), {
      platform: "linux/amd64",
      contextDir: "<context>",
      dockerfile: "<context>/Dockerfile",
      tags: ["127.0.0.1:5000/x/staging:t", "127.0.0.1:5000/x/staging:build-0123"],
    });
    expect(digest).toBeUndefined();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("--metadata-file '<metadata>'");
    expect(lines[0]).not.toContain(tmpdir());
    expect(existsSync(SCRATCH) ? readdirSync(SCRATCH) : []).toEqual(before);
  });
});
