/**
 * The pipeline service's loop (tools/service/pipeline.ts), in a small
 * workspace through the real nx binary, with dry runs: a run is due when there
 * was none and when the commit moves, not otherwise; it is recorded in
 * dist/service/run.json, and its end is posted to a receiver on loopback.
 * A receiver that never answers delays the run's end by the bound, no more.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVICE_RUN_FILE } from "../../../libs/status/src";
import { createWorkspace, smallFixture, type Workspace } from "../workspace";

let ws: Workspace;
let dir: string;
const servers: Server[] = [];
const posted: string[] = [];

async function receiver(answer: boolean): Promise<string> {
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => {
      posted.push(body);
      if (answer) res.writeHead(200).end("ok");
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/hooks/abcdef-secret`;
}

const service = (args: string[]) =>
  execa("node", ["-r", "@swc-node/register", "tools/service/pipeline.ts", "--once", "--dry-run", "--page-url", "http://status.test/", ...args], {
    cwd: ws.dir,
    reject: false,
    all: true,
    timeout: 400_000,
  });

beforeAll(() => {
  ws = createWorkspace({ fixture: smallFixture() });
  dir = mkdtempSync(join(tmpdir(), "obi-service-"));
});

afterAll(() => {
  for (const s of servers) s.closeAllConnections(), s.close();
  ws?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the pipeline service", () => {
  it("runs when none ran, records the run and posts its end", async () => {
    const hook = join(dir, "hook");
    writeFileSync(hook, `${await receiver(true)}\n`);
    const r = await service(["--slack", hook, "--commit", "a".repeat(40)]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain("pipeline: running (no run yet): nx run-many -t publish --dryRun");
    expect(r.all).toContain("pipeline: the run succeeded");
    expect(r.all).not.toContain("abcdef-secret");
    const run = JSON.parse(ws.read(SERVICE_RUN_FILE)) as { state: string; commit: string };
    expect(run).toMatchObject({ state: "succeeded", commit: "a".repeat(40) });
    expect(posted).toHaveLength(1);
    const text = (JSON.parse(posted[0] as string) as { text: string }).text;
    // A dry run (the service's default) builds nothing: its counts say what it would build.
    expect(text).toMatch(/^:white_check_mark: base-images: the run for period 7d#\d+ at aaaaaaaaaaaa succeeded; builds: \d+ would-build[^;]*; http:\/\/status\.test\/$/);
  });

  it("does nothing when the commit and period are those of the last run", async () => {
    const r = await service(["--commit", "a".repeat(40)]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toMatch(/pipeline: nothing is due/);
    expect(r.all).not.toContain("nx run-many");
  });

  it("runs again when the commit moves, and a receiver that never answers only delays its end by the bound", async () => {
    const hook = join(dir, "hanging");
    writeFileSync(hook, `${await receiver(false)}\n`);
    const before = posted.length;
    const started = Date.now();
    const r = await service(["--slack", hook, "--commit", "b".repeat(40)]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain("the deployed commit moved to bbbbbbbbbbbb");
    expect(r.all).toMatch(/notify: could not post to the webhook at 127\.0\.0\.1:\d+: no answer within 5 s; the pipeline goes on/);
    expect(r.all).not.toContain("abcdef-secret");
    expect(posted.length - before).toBe(3);
    expect(Date.now() - started).toBeLessThan(300_000);
    expect(JSON.parse(ws.read(SERVICE_RUN_FILE))).toMatchObject({ state: "succeeded", commit: "b".repeat(40) });
  });
});
