/**
 * Notifications against real receivers on loopback: one that takes them, one
 * that answers 500, one that never answers. Delivery is bounded in tries and
 * time and never throws; the log names the webhook's host, never its path.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readWebhookUrl } from "../nx-plugin/src/settings";
import { webhookNotifier } from "./notify";

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
const servers: Server[] = [];
const dir = mkdtempSync(join(tmpdir(), "obi-notify-"));

async function receiver(handle: Handler): Promise<{ url: URL; bodies: string[] }> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => {
      bodies.push(body);
      handle(req, res, body);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { url: new URL(`http://127.0.0.1:${port}/services/T000/B000/secret-path-part`), bodies };
}

const read = (path: string) => readFileSync(path, "utf8");
const POLICY = { attempts: 3, timeoutMs: 500, backoffMs: 50 };

afterAll(() => {
  for (const s of servers) s.closeAllConnections(), s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the webhook notifier", () => {
  it("posts Slack-compatible JSON to a receiver that takes it, once", async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end("ok"));
    const log: string[] = [];
    const outcome = await webhookNotifier(r.url, (l) => log.push(l), POLICY).post("base-images: 1 build failed");
    expect(outcome).toEqual({ delivered: true, tries: 1 });
    expect(r.bodies.map((b) => JSON.parse(b))).toEqual([{ text: "base-images: 1 build failed" }]);
    expect(log).toEqual([]);
  });

  it("tries a receiver answering 500 a bounded number of times, then gives up without throwing", async () => {
    const r = await receiver((_req, res) => res.writeHead(500).end("no"));
    const log: string[] = [];
    const outcome = await webhookNotifier(r.url, (l) => log.push(l), POLICY).post("x");
    expect(outcome).toEqual({ delivered: false, tries: 3, reason: "answered 500" });
    expect(r.bodies).toHaveLength(3);
    expect(log).toHaveLength(1);
    expect(log[0]).toContain(`the webhook at ${r.url.host}: answered 500; the pipeline goes on`);
    expect(log[0]).not.toContain("secret-path-part");
  });

  it("does not stall on a receiver that never answers: each try ends at its bound", async () => {
    const r = await receiver(() => {
      // Never answers.
    });
    const log: string[] = [];
    const started = Date.now();
    const outcome = await webhookNotifier(r.url, (l) => log.push(l), POLICY).post("x");
    const took = Date.now() - started;
    expect(outcome).toMatchObject({ delivered: false, tries: 3, reason: "no answer within 0.5 s" });
    expect(took).toBeGreaterThanOrEqual(1500);
    expect(took).toBeLessThan(5000);
    expect(r.bodies).toHaveLength(3);
  });

  it("does not try again on a client error other than 429", async () => {
    const r = await receiver((_req, res) => res.writeHead(404).end("no such hook"));
    const outcome = await webhookNotifier(r.url, () => {}, POLICY).post("x");
    expect(outcome).toEqual({ delivered: false, tries: 1, reason: "answered 404" });
    expect(r.bodies).toHaveLength(1);
  });

  it("gives up at once, bounded, when nothing listens", async () => {
    const r = await receiver((_req, res) => res.end());
    const closed = servers.at(-1) as Server;
    await new Promise((ok) => closed.close(ok));
    const outcome = await webhookNotifier(r.url, () => {}, POLICY).post("x");
    expect(outcome.delivered).toBe(false);
    expect(outcome.delivered === false && outcome.reason).toMatch(/ECONNREFUSED/);
  });
});

describe("the webhook file", () => {
  it("gives the URL on its first line", () => {
    const file = join(dir, "hook");
    writeFileSync(file, "https://hooks.slack.com/services/T/B/abc\n");
    expect(readWebhookUrl(file, read).href).toBe("https://hooks.slack.com/services/T/B/abc");
  });

  it("refuses a file without a URL in one line naming the file and not its text", () => {
    const file = join(dir, "bad");
    writeFileSync(file, "not-a-url-but-maybe-a-secret\n");
    expect(() => readWebhookUrl(file, read)).toThrow(`${file}: the first line is not an http(s) URL`);
    try {
      readWebhookUrl(file, read);
    } catch (e) {
      expect((e as Error).message).not.toContain("maybe-a-secret");
    }
    expect(() => readWebhookUrl(join(dir, "none"), read)).toThrow(/cannot read the webhook file .*none: ENOENT/);
  });
});
