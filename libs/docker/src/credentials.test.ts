/**
 * Secret files and crashes: a process killed with SIGKILL while it holds a
 * temporary docker config leaves it only until the next process starts one.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { filesHolding } from "../../../tools/testing/secrets";
import { secretDir, secretsParent, temporaryDockerConfig } from "./credentials";
import { currentOwner, ownerTag } from "./owned-dirs";

const ROOT = join(__dirname, "../../..");

/** Every file under `dir` (not following links) whose bytes hold `needle`. */

/** Starts a process that writes a temporary docker config and waits; resolves with it and its folder. */
async function processHoldingConfig(password: string) {
  const script = `
    const { temporaryDockerConfig } = require(${JSON.stringify(join(ROOT, "libs/docker/src/credentials.ts"))});
    const config = temporaryDockerConfig("127.0.0.1:5000", { username: "obi", password: ${JSON.stringify(password)} });
    console.log(config.env.DOCKER_CONFIG);
    setInterval(() => {}, 1000);
  `;
  const child = execa("node", ["-r", "@swc-node/register", "-e", script], { cwd: ROOT, reject: false });
  const dir = await new Promise<string>((resolve, reject) => {
    child.stdout?.once("data", (chunk: Buffer) => resolve(chunk.toString().trim()));
    child.once("exit", () => reject(new Error("the child exited before writing its config")));
  });
  return { child, dir };
}

describe("secret folders", () => {
  it("a docker config left by a SIGKILL is gone once the next run makes one, and nothing on disk ever held it", async () => {
    const password = `secret-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const { child, dir } = await processHoldingConfig(password);
    expect(readFileSync(join(dir, "config.json"), "utf8")).toContain(Buffer.from(`obi:${password}`).toString("base64"));
    child.kill("SIGKILL");
    await child;
    // The crash left it; tmpfs keeps it off the disk meanwhile.
    expect(existsSync(dir)).toBe(true);
    if (existsSync("/dev/shm")) expect(dir.startsWith("/dev/shm/") || dir.startsWith(process.env.XDG_RUNTIME_DIR ?? "/dev/shm/")).toBe(true);
    // The next run starts.
    const next = temporaryDockerConfig("127.0.0.1:5000", { username: "obi", password: "another" });
    next.dispose();
    expect(existsSync(dir)).toBe(false);
    const encoded = Buffer.from(`obi:${password}`).toString("base64");
    for (const place of [tmpdir(), secretsParent()]) {
      expect(filesHolding(place, [encoded]), place).toEqual([]);
      expect(filesHolding(place, [password]), place).toEqual([]);
    }
  });

  it("keeps the folders of processes still running, and does not take a reused pid for their owner", async () => {
    const { child, dir } = await processHoldingConfig("alive-secret");
    // A folder named after the running child's pid with another start time: a dead process whose pid came back.
    const impostor = join(secretsParent(), `${child.pid}-1-docker-config-x`);
    const mine = secretDir("test");
    try {
      mkdirSync(impostor, { recursive: true });
      expect(existsSync(impostor)).toBe(true);
      const own = `${ownerTag(currentOwner())}-`;
      expect(mine.path.slice(secretsParent().length + 1).startsWith(own)).toBe(true);
      secretDir("sweep").dispose();
      expect(existsSync(dir)).toBe(true);
      expect(existsSync(mine.path)).toBe(true);
      expect(existsSync(impostor)).toBe(false);
    } finally {
      rmSync(impostor, { recursive: true, force: true });
      mine.dispose();
      child.kill("SIGKILL");
      await child;
    }
    secretDir("sweep").dispose();
    expect(existsSync(dir)).toBe(false);
  });

  it("is private: the folder and the config are the user's alone", () => {
    const config = temporaryDockerConfig("127.0.0.1:5000", { username: "obi", password: "p" });
    try {
      const dir = config.env.DOCKER_CONFIG as string;
      expect(statSync(secretsParent()).mode & 0o077).toBe(0);
      expect(statSync(dir).mode & 0o077).toBe(0);
      expect(statSync(join(dir, "config.json")).mode & 0o077).toBe(0);
    } finally {
      config.dispose();
    }
  });
});
