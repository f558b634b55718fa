/**
 * A process that takes a machine lock (and makes a secret folder) as a build
 * would, for the lock suite to run as another user, several at once, or kill:
 *   node lock-driver.js <key> <holdMs> <staleMs> [startAtMs]
 * Prints `took <pid> <ms>`, holds the lock `holdMs`, prints `released <pid> <ms>`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { secretDir, withMachineLock } from "../../libs/docker/src";

async function main(): Promise<void> {
  const [key = "k", hold = "1000", stale = "1000", startAt = "0"] = process.argv.slice(2);
  // Started together, they look at the lock at the same moment.
  await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
  await withMachineLock(
    key,
    (owner) => process.stdout.write(`waiting ${owner.pid}\n`),
    async () => {
      const secrets = secretDir("driver");
      writeFileSync(join(secrets.path, "secret"), "driver-secret", { mode: 0o600 });
      process.stdout.write(`took ${process.pid} ${Date.now()} ${secrets.path}\n`);
      await new Promise((r) => setTimeout(r, Number(hold)));
      process.stdout.write(`released ${process.pid} ${Date.now()}\n`);
      secrets.dispose();
    },
    { staleMs: Number(stale), pollMs: 50 },
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(2);
});
