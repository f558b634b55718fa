/**
 * Both storages keep the same contract: artifacts come back byte for byte,
 * and a second write of a hash changes nothing. The registry one runs against
 * the real loopback registry.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { requireDockerEnvironment } from "../../testing/docker";
import { directoryStorage, registryStorage, type ArtifactStorage } from "./storage";

function contract(name: string, make: () => ArtifactStorage) {
  describe(name, () => {
    it("returns what was stored, byte for byte, and nothing for an unknown hash", async () => {
      const storage = make();
      const bytes = randomBytes(50_000);
      expect(await storage.putIfAbsent("1111", bytes)).toBe("created");
      expect((await storage.get("1111"))?.equals(bytes)).toBe(true);
      expect(await storage.get("2222")).toBeUndefined();
    });

    it("keeps the first artifact when a hash is written again", async () => {
      const storage = make();
      const first = randomBytes(1000);
      expect(await storage.putIfAbsent("3333", first)).toBe("created");
      expect(await storage.putIfAbsent("3333", randomBytes(1000))).toBe("exists");
      expect((await storage.get("3333"))?.equals(first)).toBe(true);
    });
  });
}

contract("directory storage", () => directoryStorage(mkdtempSync(join(tmpdir(), "obi-store-"))));
contract("registry storage", () => {
  const env = requireDockerEnvironment();
  return registryStorage(`${env.registry}/c${Date.now().toString(36)}${randomBytes(3).toString("hex")}/nx-cache`, env.credentials);
});
