/**
 * A run record names who runs the task (host, pid, the pid's start time); the
 * status calls a queued or running task whose process is gone interrupted —
 * here a real process, killed with SIGKILL, as nx would be.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { runRecordSchema, type RunOwner } from "../../../../libs/records/src";
import { makeStatus } from "../../../../libs/status/src";
import { planOf, Records, REPOSITORIES, fakeBuildId } from "../../../testing/status";
import { thisRunner } from "./records";
import { runnerGone } from "./status";

const startOf = (pid: number): string => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] as string;
};

describe("a task whose run was killed", () => {
  it("shows building while its process runs, and interrupted once it is gone", async () => {
    const { plan, distros } = planOf();
    const image = plan.images[0];
    const build = image?.builds[0];
    if (!image || !build) throw new Error("an empty plan");
    const child = execa(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { reject: false });
    await new Promise((r) => setTimeout(r, 300));
    const pid = child.pid as number;
    const runner: RunOwner = { host: hostname(), pid, started: startOf(pid) };
    const at = new Date(Date.UTC(2026, 0, 1)).toISOString();
    const records = new Records();
    records.buildRun(build, runRecordSchema.parse({ state: "running", task: `${image.name}:build-${build.arch}`, at, runner }));
    records.publishRun(image.name, runRecordSchema.parse({ state: "queued", task: `${image.name}:publish`, at, runner }));
    const status = () => {
      const s = makeStatus({ plan, repositories: REPOSITORIES, distros, records: records.map, buildIdOf: fakeBuildId, generatedAt: at, runnerGone });
      const i = s.images.find((x) => x.name === image.name);
      return { build: i?.builds.find((b) => b.arch === build.arch)?.status, publish: i?.publish.status };
    };
    expect(status().build?.state).toBe("building");
    expect(status().publish?.state).toBe("queued");
    process.kill(pid, "SIGKILL");
    await child;
    const after = status();
    expect(after.build?.state).toBe("failed");
    expect(after.build?.state === "failed" && after.build.failure.message).toBe(`interrupted: the run that started it (pid ${pid} on ${hostname()}) is gone; run it again`);
    expect(after.publish?.state === "failed" && after.publish.failure.message).toBe(`interrupted: the run that queued it (pid ${pid} on ${hostname()}) is gone; run it again`);
    // Another host's run is taken at its word: this machine cannot see its processes.
    expect(runnerGone({ ...runner, host: `not-${hostname()}` })).toBe(false);
  });

  it("is named in the records a task writes: this host, this process", () => {
    const me = thisRunner();
    expect(me).toEqual({ host: hostname(), pid: process.pid, started: startOf(process.pid) });
    expect(runnerGone(me)).toBe(false);
  });
});
