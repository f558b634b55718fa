/**
 * A dry run never builds, pushes or logs in, whichever way it is asked for and
 * whichever nx command starts it. Every `docker` call goes to a recorder first on
 * PATH (which fails, so nothing real happens), and the repositories point at a
 * loopback HTTP server that records every request: a dry run must leave both empty.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, smallFixture, type NxResult, type Workspace } from "../workspace";

let ws: Workspace;
let shimDir: string;
let server: Server;
const requests: string[] = [];

const dockerCalls = (): string[] => readFileSync(join(shimDir, "calls.log"), "utf8").split("\n").filter(Boolean);

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.statusCode = 500;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const registry = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  shimDir = mkdtempSync(join(tmpdir(), "obi-docker-recorder-"));
  writeFileSync(join(shimDir, "calls.log"), "");
  writeFileSync(join(shimDir, "docker"), `#!/bin/sh\necho "docker $*" >>'${join(shimDir, "calls.log")}'\nexit 1\n`);
  chmodSync(join(shimDir, "docker"), 0o755);
  const passwordFile = join(shimDir, "password");
  writeFileSync(passwordFile, "not-a-real-password\n");

  ws = createWorkspace({
    fixture: smallFixture(),
    pluginOptions: {
      dryRun: false,
      stagingRepo: `${registry}/staging`,
      publicRepo: `${registry}/public`,
      registry: { username: "someone", passwordFile },
    },
  });
}, 120_000);

afterAll(() => {
  ws?.dispose();
  server?.close();
  rmSync(shimDir, { recursive: true, force: true });
});

async function dryRun(args: readonly string[], env: Record<string, string> = {}): Promise<NxResult> {
  const result = await ws.nx([...args, "--outputStyle=static", "--skip-nx-cache"], { PATH: `${shimDir}:${process.env.PATH ?? ""}`, ...env });
  return result;
}

function expectNothingHappened(result: NxResult): void {
  expect(dockerCalls(), result.all.slice(-3000)).toEqual([]);
  expect(requests).toEqual([]);
  expect(result.exitCode, result.all.slice(-3000)).toBe(0);
  expect(result.all).toMatch(/would build/);
  expect(result.all).toMatch(/would push/);
  expect(result.all).not.toMatch(/\bpushed\b/);
  expect(result.all).not.toMatch(/not-a-real-password/);
}

describe("a dry run", () => {
  it("of one image's publish reaches the builds it depends on (nx run --dryRun)", async () => {
    const result = await dryRun(["run", "debian-13-ocaml-5.4:publish", "--dryRun"]);
    expectNothingHappened(result);
    // The builds of the image and of its opam image ran, in dry-run mode.
    expect(result.all).toMatch(/debian-13-opam \(arm64\).*would build/);
    expect(result.all).toMatch(/debian-13-ocaml-5\.4 \(amd64\).*would build/);
  });

  it("is also asked for as --dry-run", async () => {
    expectNothingHappened(await dryRun(["run", "debian-13-ocaml-5.4:publish", "--dry-run"]));
  });

  it("of the whole matrix (nx run-many --dryRun)", async () => {
    const result = await dryRun(["run-many", "-t", "publish", "--dryRun"]);
    expectNothingHappened(result);
    expect(result.all).toMatch(/alpine-3\.23-ocaml-4\.14 \(amd64\).*would build/);
  });

  it("of what a change touches (nx affected --dryRun)", async () => {
    ws.editJson("images/alpine-3.23/image.json", (j) => (j.gcc = "15.3"));
    ws.commit("newer gcc on alpine");
    const result = await dryRun(["affected", "-t", "publish", "--base=HEAD~1", "--head=HEAD", "--dryRun"]);
    expectNothingHappened(result);
    expect(result.all).toMatch(/alpine-3\.23-opam \(amd64\).*would build/);
  });

  it("through the environment (OBI_DRY_RUN=1)", async () => {
    expectNothingHappened(await dryRun(["run-many", "-t", "publish"], { OBI_DRY_RUN: "1" }));
  });

  it("prints each line a task says once, whole, and prefixed with its image (and arch)", async () => {
    const result = await dryRun(["run", "debian-13-ocaml-5.4:publish", "--dryRun"]);
    expect(result.exitCode).toBe(0);
    const ours = result.all.split("\n").filter((line) => /^(debian|alpine)-[\w.-]+( \(\w+\))?: /.test(line));
    expect(ours.length).toBeGreaterThan(10);
    const counts = new Map<string, number>();
    for (const line of ours) counts.set(line, (counts.get(line) ?? 0) + 1);
    expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
    // No two lines run together: one prefix per line.
    for (const line of ours) expect(line.match(/(^|\s)(debian|alpine)-[\w.-]+ \(\w+\): /g)?.length ?? 0, line).toBeLessThanOrEqual(1);
    for (const arch of ["amd64", "arm64"]) expect(ours.some((l) => l.startsWith(`debian-13-opam (${arch}): would build`))).toBe(true);
    expect(ours.some((l) => l.startsWith("debian-13-ocaml-5.4: would push"))).toBe(true);
  });

  it("names builds by a 12-hex build id and no temporary path; --verbose shows each command whole", async () => {
    const ours = (result: NxResult) => result.all.split("\n").filter((line) => /^(debian|alpine)-[\w.-]+( \(\w+\))?: /.test(line));
    const short = ours(await dryRun(["run", "debian-13-ocaml-5.4:publish", "--dryRun"]));
    expect(short.length).toBeGreaterThan(5);
    for (const line of short) {
      expect(line, line).not.toMatch(/[0-9a-f]{64}/);
      expect(line, line).not.toMatch(/\/tmp\/|obi-[\w-]+-[A-Za-z0-9]{6}/);
    }
    expect(short.some((l) => /debian-13-opam \(amd64\): would push \S+ and \S+:build-[0-9a-f]{12}…$/.test(l))).toBe(true);
    expect(short.some((l) => /debian-13-ocaml-5\.4: would push \S+ <- \S+:build-[0-9a-f]{12}…, \S+:build-[0-9a-f]{12}…$/.test(l))).toBe(true);
    expect(short.some((l) => / would run: docker buildx build … \(--verbose shows it whole\)$/.test(l))).toBe(true);
    const whole = ours(await dryRun(["run", "debian-13-ocaml-5.4:publish", "--dryRun", "--verbose"]));
    expect(whole.some((l) => / would run: docker buildx build --platform linux\/amd64 .*:build-[0-9a-f]{64} .*'<context>'$/.test(l))).toBe(true);
    expect(whole.some((l) => /debian-13-ocaml-5\.4: would push \S+ <- \S+:build-[0-9a-f]{64}, /.test(l))).toBe(true);
    expectNothingHappened(await dryRun(["run", "debian-13-ocaml-5.4:publish", "--dryRun", "--verbose"]));
  });

  it("refuses an OBI_DRY_RUN it cannot read, before doing anything", async () => {
    const result = await dryRun(["run", "debian-13-opam:build-amd64"], { OBI_DRY_RUN: "maybe" });
    expect(result.exitCode).not.toBe(0);
    expect(result.all).toMatch(/OBI_DRY_RUN: "maybe" is not a boolean/);
    expect(dockerCalls()).toEqual([]);
    expect(requests).toEqual([]);
  });
});
