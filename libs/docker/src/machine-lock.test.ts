/**
 * The takeover of a stale lock, step by step in the worst order: two runs judge the
 * same lock stale, one breaks it and takes the lock, then the other acts on what it
 * judged. (tools/testing/suites/locks.test.ts runs real processes at once; this is
 * the interleaving they rarely hit.)
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { breakStale, stateOf, tryTake } from "./machine-lock";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "obi-lock-steps-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("two runs finding the same stale lock", () => {
  it("the late one does not remove the lock the early one took", () => {
    const path = join(dir, "x.lock");
    writeFileSync(path, "999999999-1");
    const a = stateOf(path, 1_000);
    const b = stateOf(path, 1_000);
    expect(a.kind).toBe("stale");
    expect(b).toEqual(a);
    // Run A breaks the stale lock and takes it.
    expect(breakStale(path, 1_000)).toBe(true);
    const taken = tryTake(path);
    expect(taken).toBeDefined();
    // Run B acts on its older judgement: the lock is A's now and stays.
    expect(breakStale(path, 1_000)).toBe(true);
    expect(existsSync(path)).toBe(true);
    expect(readFileSync(path, "utf8")).toMatch(new RegExp(`^${process.pid}-`));
    expect(tryTake(path)).toBeUndefined();
    expect(existsSync(`${path}.break`)).toBe(false);
  });

  it("a breaker left by a run killed mid-break is itself stale, and broken", () => {
    const path = join(dir, "y.lock");
    writeFileSync(path, "999999999-1");
    writeFileSync(`${path}.break`, "999999998-1");
    expect(stateOf(path, 1_000).kind).toBe("stale");
    expect(breakStale(path, 1_000)).toBe(false);
    expect(existsSync(`${path}.break`)).toBe(false);
    expect(breakStale(path, 1_000)).toBe(true);
    expect(tryTake(path)).toBeDefined();
  });
});
