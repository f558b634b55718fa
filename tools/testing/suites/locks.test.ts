/**
 * Machine locks that cannot be stalled or borrowed, and that no signal leaves
 * behind: an empty or unreadable lock is stale after a bound; a lock folder
 * made in advance by another user, or left open, is refused; two runs finding
 * the same stale lock never both hold it; SIGTERM and SIGINT release the lock
 * and remove the secret folder. Real processes: the lock driver
 * (tools/testing/lock-driver.ts) bundled, run as a second user, several at once, killed.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa, execaSync, type ResultPromise } from "execa";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { lockPath, locksDir, withMachineLock } from "../../../libs/docker/src";
import { PROJECT_ROOT } from "../workspace";

const USER = "obi-lock-test";
let uid: number;
let driver: string;
let bundleDir: string;
let base: string;
const savedTmp = process.env.TMPDIR;

/** A second user on this machine, made once (tests run as root, like tools/ci/test.sh). */
function secondUser(): number {
  if (execaSync("id", ["-u", USER], { reject: false }).exitCode !== 0) {
    execaSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER]);
  }
  return Number(execaSync("id", ["-u", USER]).stdout.trim());
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lock suite makes a second user and runs processes as it: run it as root (tools/ci/test.sh does)");
  uid = secondUser();
  bundleDir = mkdtempSync(join(tmpdir(), "obi-lock-driver-"));
  const { build } = await import("rolldown");
  await build({
    input: join(PROJECT_ROOT, "tools/testing/lock-driver.ts"),
    platform: "node",
    logLevel: "warn",
    output: { file: join(bundleDir, "lock-driver.js"), format: "cjs" },
  });
  chmodSync(bundleDir, 0o755);
  driver = join(bundleDir, "lock-driver.js");
});

beforeEach(() => {
  // Every test its own temporary folder, where the locks folder goes ($TMPDIR/obi-locks-<uid>), open to the second user.
  base = mkdtempSync(join(tmpdir(), "obi-locks-test-"));
  chmodSync(base, 0o777);
  process.env.TMPDIR = base;
});

afterAll(() => {
  process.env.TMPDIR = savedTmp;
  rmSync(bundleDir, { recursive: true, force: true });
});

/** Runs the driver as root (this user) or as the second user, with TMPDIR at the test's folder. */
function startDriver(args: (string | number)[], as: "root" | "second" = "root"): ResultPromise<{ reject: false; all: true }> {
  const command = as === "second" ? ["runuser", "-u", USER, "--", "env", `TMPDIR=${base}`, `XDG_RUNTIME_DIR=${base}`, process.execPath, driver] : [process.execPath, driver];
  return execa(command[0] as string, [...command.slice(1), ...args.map(String)], { reject: false, all: true, env: { TMPDIR: base, XDG_RUNTIME_DIR: base } });
}

const within = async <T>(ms: number, what: string, p: Promise<T>): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, no) => (timer = setTimeout(() => no(new Error(`${what}: still waiting after ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
};

describe("a lock that names no owner", () => {
  it("an empty lock file is stale after the bound, not forever", async () => {
    mkdirSync(locksDir(), { mode: 0o700 });
    writeFileSync(lockPath("build-empty"), "");
    const started = Date.now();
    const ran = await within(15_000, "the build behind an empty lock", withMachineLock("build-empty", () => {}, async () => Date.now(), { staleMs: 1_000, pollMs: 50 }));
    expect(ran - started).toBeGreaterThanOrEqual(900);
    expect(existsSync(lockPath("build-empty"))).toBe(false);
  });

  it("a lock the runner cannot read (another user's, mode 000) is stale after the bound", async () => {
    // The second user's first run makes its locks folder; then a lock it cannot read appears in it.
    const first = await startDriver(["build-unreadable", 0, 60_000], "second");
    expect(first.exitCode, first.all).toBe(0);
    const hashName = lockPath("build-unreadable").slice(locksDir().length + 1);
    const planted = join(base, `obi-locks-${uid}`, hashName);
    closeSync(openSync(planted, "w", 0o000));
    chmodSync(planted, 0o000);
    const started = Date.now();
    const r = await within(20_000, "the second user's build behind an unreadable lock", startDriver(["build-unreadable", 100, 1_500], "second"));
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toMatch(/^took \d+/m);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
  });
});

describe("a lock folder that is not the runner's own", () => {
  it("made in advance by another user with mode 0777, is refused in one line", async () => {
    const dir = join(base, `obi-locks-${process.getuid?.()}`);
    execaSync("runuser", ["-u", USER, "--", "mkdir", "-m", "0777", dir]);
    const error = await withMachineLock("build-x", () => {}, async () => "ran").catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(`${dir} is not a private folder of this user (uid 0, mode 0700; it is owned by uid ${uid}, mode 0777); refusing to keep locks there`);
  });

  it("of this user but open to all (0777), is refused too", async () => {
    const dir = join(base, `obi-locks-${process.getuid?.()}`);
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const r = await startDriver(["build-y", 0, 1_000]);
    expect(r.exitCode).toBe(2);
    expect(r.all.trim()).toBe(`${dir} is not a private folder of this user (uid 0, mode 0700; it is owned by uid 0, mode 0777); refusing to keep locks there`);
  });
});

describe("two runs finding the same stale lock", () => {
  it("never both hold it: each takes it in turn", async () => {
    for (let round = 0; round < 3; round++) {
      const key = `build-stale-${round}`;
      mkdirSync(locksDir(), { recursive: true, mode: 0o700 });
      // The owner of this lock is gone (no such pid).
      writeFileSync(lockPath(key), "999999999-1");
      const startAt = Date.now() + 1_500;
      const runs = await Promise.all(Array.from({ length: 5 }, () => startDriver([key, 300, 60_000, startAt])));
      const spans = runs.map((r) => {
        expect(r.exitCode, r.all).toBe(0);
        const took = Number(/^took \d+ (\d+)/m.exec(r.all)?.[1]);
        const released = Number(/^released \d+ (\d+)/m.exec(r.all)?.[1]);
        return [took, released] as const;
      });
      spans.sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < spans.length; i++) expect(spans[i]?.[0], `round ${round}: run ${i} took the lock while run ${i - 1} held it`).toBeGreaterThanOrEqual(spans[i - 1]?.[1] ?? 0);
    }
  });
});

describe("a run ended by a catchable signal", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`${signal}: releases its lock and removes its secret folder before it ends`, async () => {
      const child = startDriver(["build-signal", 60_000, 60_000]);
      let secrets = "";
      await within(15_000, "the driver taking the lock", new Promise<void>((ok) => child.all?.on("data", (chunk: Buffer) => {
        const m = /^took \d+ \d+ (\S+)/m.exec(chunk.toString());
        if (m) {
          secrets = m[1] as string;
          ok();
        }
      })));
      expect(existsSync(lockPath("build-signal"))).toBe(true);
      expect(existsSync(join(secrets, "secret"))).toBe(true);
      process.kill(child.pid as number, signal);
      const r = await child;
      expect(r.signal).toBe(signal);
      expect(existsSync(lockPath("build-signal"))).toBe(false);
      expect(existsSync(secrets)).toBe(false);
      expect(readdirSync(dirname(secrets))).toEqual([]);
    });
  }
});
