import { describe, expect, it } from "vitest";
import { registryTrouble } from "./buildx";

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
