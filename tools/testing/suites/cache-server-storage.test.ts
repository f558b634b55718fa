/**
 * Every storage keeps the same contract: artifacts come back byte for byte,
 * a second write of a hash changes nothing, a removed hash is gone and can be
 * written again. The registry ones run against real registries: the loopback
 * one with a password, and a distribution registry that wants bearer tokens
 * from a token service (as Docker Hub and GHCR do). The directory storage
 * also keeps its size budget and maximum age.
 */
import { randomBytes, createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { buffer } from "node:stream/consumers";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireDockerEnvironment } from "../docker";
import { directoryStorage, registryStorage, type ArtifactStorage, type StagedArtifact } from "../../cache-server/src/storage";
import { startTokenRegistry, type TokenRegistry } from "../../cache-server/src/testing/token-registry";

const folders: string[] = [];
/** A temporary folder, removed after the tests. */
function folder(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  folders.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

function stage(storage: ArtifactStorage, bytes: Buffer): StagedArtifact {
  const path = join(storage.stagingDirectory, `${randomBytes(6).toString("hex")}.part`);
  writeFileSync(path, bytes);
  return { path, size: bytes.length, digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}` };
}

async function readBack(storage: ArtifactStorage, hash: string): Promise<Buffer | undefined> {
  const artifact = await storage.read(hash);
  if (!artifact) return undefined;
  const bytes = await buffer(artifact.body);
  expect(bytes.length).toBe(artifact.size);
  return bytes;
}

function contract(name: string, make: () => ArtifactStorage) {
  describe(name, () => {
    it("returns what was stored, byte for byte, and nothing for an unknown hash; leaves no staged file", async () => {
      const storage = make();
      const bytes = randomBytes(50_000);
      const staged = stage(storage, bytes);
      expect(await storage.commit("1111", staged)).toBe("created");
      expect(existsSync(staged.path)).toBe(false);
      expect((await readBack(storage, "1111"))?.equals(bytes)).toBe(true);
      expect(await storage.read("2222")).toBeUndefined();
      storage.close();
    });

    it("keeps the first artifact when a hash is written again", async () => {
      const storage = make();
      const first = randomBytes(1000);
      expect(await storage.commit("3333", stage(storage, first))).toBe("created");
      expect(await storage.commit("3333", stage(storage, randomBytes(1000)))).toBe("exists");
      expect((await readBack(storage, "3333"))?.equals(first)).toBe(true);
      expect(readdirSync(storage.stagingDirectory)).toEqual([]);
      storage.close();
    });

    it("removes a hash, which can then be written again, and leaves other hashes with the same bytes alone", async () => {
      const storage = make();
      const same = randomBytes(1000);
      expect(await storage.commit("4444", stage(storage, same))).toBe("created");
      expect(await storage.commit("5555", stage(storage, same))).toBe("created");
      expect(await storage.remove("4444")).toBe(true);
      expect(await storage.read("4444")).toBeUndefined();
      expect((await readBack(storage, "5555"))?.equals(same)).toBe(true);
      expect(await storage.remove("4444")).toBe(false);
      const fixed = randomBytes(1000);
      expect(await storage.commit("4444", stage(storage, fixed))).toBe("created");
      expect((await readBack(storage, "4444"))?.equals(fixed)).toBe(true);
      storage.close();
    });
  });
}

const uniqueRepository = () => `c${Date.now().toString(36)}${randomBytes(3).toString("hex")}/nx-cache`;

contract("directory storage", () => directoryStorage(folder("obi-store-")));
contract("registry storage (password)", () => {
  const env = requireDockerEnvironment();
  return registryStorage(`${env.registry}/${uniqueRepository()}`, env.credentials);
});

let tokenRegistry: TokenRegistry | undefined;
beforeAll(async () => {
  tokenRegistry = await startTokenRegistry();
});
afterAll(async () => {
  await tokenRegistry?.stop();
});
contract("registry storage (bearer tokens from a token service)", () => {
  if (!tokenRegistry) throw new Error("the token registry did not start");
  return registryStorage(`${tokenRegistry.registry}/${uniqueRepository()}`, tokenRegistry.credentials);
});

describe("registry storage with a token service", () => {
  it("asks the token service for the scopes it uses, and is refused with wrong credentials", async () => {
    if (!tokenRegistry) throw new Error("the token registry did not start");
    const repository = uniqueRepository();
    expect(tokenRegistry.grantedScopes).toContainEqual(expect.stringMatching(/^repository:.+:pull,push$/));
    expect(tokenRegistry.grantedScopes).toContainEqual(expect.stringMatching(/^repository:.+:delete$/));
    const wrong = registryStorage(`${tokenRegistry.registry}/${repository}`, { username: "cache", password: "wrong" });
    await expect(wrong.commit("6666", stage(wrong, randomBytes(100)))).rejects.toThrow(/authentication failed \(401\)/);
    wrong.close();
  });
});

describe("directory storage retention", () => {
  const KB = 1024;
  function clockedStore(retention: { maxTotalBytes?: number; maxAgeMs?: number }) {
    let time = 1_700_000_000_000;
    const log: string[] = [];
    const root = folder("obi-store-retention-");
    const storage = directoryStorage(root, { retention, now: () => time, log: (line) => log.push(line) });
    return { storage, root, log, tick: (ms: number) => (time += ms) };
  }

  it("drops the least recently read artifacts when the store is over budget", async () => {
    const { storage, log, tick } = clockedStore({ maxTotalBytes: 10 * KB });
    for (const hash of ["a1", "a2", "a3", "a4"]) {
      expect(await storage.commit(hash, stage(storage, randomBytes(3 * KB)))).toBe("created");
      tick(1000);
    }
    // 12 KB > 10 KB: the oldest, a1, is gone.
    expect(await storage.read("a1")).toBeUndefined();
    // Reading a2 makes it the most recent; a3 is then the least recently read.
    (await storage.read("a2"))?.body.destroy();
    tick(1000);
    expect(await storage.commit("a5", stage(storage, randomBytes(3 * KB)))).toBe("created");
    expect(await storage.read("a3")).toBeUndefined();
    for (const hash of ["a2", "a4", "a5"]) expect(await readBack(storage, hash), hash).toBeDefined();
    expect(log.filter((l) => l.includes("least recently read over the budget"))).toHaveLength(2);
    storage.close();
  });

  it("drops artifacts older than the maximum age, read or not", async () => {
    const { storage, tick } = clockedStore({ maxAgeMs: 60_000 });
    expect(await storage.commit("b1", stage(storage, randomBytes(KB)))).toBe("created");
    tick(30_000);
    expect(await storage.commit("b2", stage(storage, randomBytes(KB)))).toBe("created");
    (await storage.read("b1"))?.body.destroy();
    tick(31_000);
    expect(await storage.read("b1")).toBeUndefined();
    expect(await readBack(storage, "b2")).toBeDefined();
    storage.close();
  });

  it("counts what is already in the folder when it starts, and applies the budget to it", async () => {
    const first = clockedStore({});
    for (const hash of ["c1", "c2", "c3"]) {
      await first.storage.commit(hash, stage(first.storage, randomBytes(4 * KB)));
      first.tick(1000);
    }
    (await first.storage.read("c1"))?.body.destroy();
    first.storage.close();
    // Restarted with a budget for two: c2 was read least recently (never, stored before c3).
    const again = directoryStorage(first.root, { retention: { maxTotalBytes: 9 * KB }, now: () => Date.now() });
    expect(await again.read("c2")).toBeUndefined();
    expect(await readBack(again, "c1")).toBeDefined();
    expect(await readBack(again, "c3")).toBeDefined();
    again.close();
  });
});
