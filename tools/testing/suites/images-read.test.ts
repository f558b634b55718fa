/**
 * images/ as a hostile pull request leaves it, through the real nx binary
 * (issue 16, §5): a link to a secret file is one line without the secret's
 * bytes, and a FIFO where a file belongs fails at once instead of hanging nx.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, smallFixture, type Workspace } from "../workspace";

const FILE = "images/alpine-3.23/image.json";
/** nx show projects takes seconds here; past this it is hanging. */
const BOUND_MS = 90_000;

describe("nx reads images/ only from regular files of the workspace", () => {
  let ws: Workspace;
  let outside: string;
  const secret = `obi-${randomBytes(16).toString("hex")}`;
  beforeAll(() => {
    ws = createWorkspace({ fixture: smallFixture(), pluginOptions: { dryRun: true } });
    outside = mkdtempSync(join(tmpdir(), "obi-secret-"));
    writeFileSync(join(outside, "registry-password"), `${secret}\n`, { mode: 0o600 });
  });
  afterEach(() => ws.git("checkout", "--", "images"));
  afterAll(() => {
    ws.dispose();
    rmSync(outside, { recursive: true, force: true });
  });

  async function refusal(): Promise<{ lines: string[]; all: string }> {
    const started = Date.now();
    const result = await ws.nx(["show", "projects"], {}, { timeoutMs: BOUND_MS });
    expect(result.timedOut, `nx show projects still running after ${BOUND_MS} ms`).toBe(false);
    expect(result.exitCode, result.all.slice(-2000)).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(BOUND_MS);
    return { lines: result.all.split("\n").filter((line) => line.includes(FILE)), all: result.all };
  }

  it("refuses an image.json linked to the registry password file in one line, without the password's bytes", async () => {
    rmSync(ws.path(FILE));
    symlinkSync(join(outside, "registry-password"), ws.path(FILE));
    const { lines, all } = await refusal();
    expect(lines).toEqual([expect.stringMatching(/images\/alpine-3\.23\/image\.json: a symbolic link; images\/ holds regular files and folders only$/)]);
    // Not even the first characters (JSON.parse once quoted them: Unexpected token 'o', "obi-…").
    expect(all).not.toContain(secret.slice(0, 6));
  });

  it("refuses a FIFO in place of image.json at once instead of hanging", { timeout: BOUND_MS + 30_000 }, async () => {
    rmSync(ws.path(FILE));
    execFileSync("mkfifo", [ws.path(FILE)]);
    const { lines } = await refusal();
    expect(lines).toEqual([expect.stringMatching(/images\/alpine-3\.23\/image\.json: a FIFO; images\/ holds regular files and folders only$/)]);
  });
});
