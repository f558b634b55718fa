/**
 * nx run images:prune-staging against a registry of its own: Debian's
 * docker-registry on another loopback port with its own storage and deletes
 * enabled (and a second instance on the same storage without them). Old
 * staging manifests nothing names are made through the registry API; a real
 * workspace publishes for real while prune runs, and the publish succeeds.
 * Then the registry's garbage collector runs and the bytes are counted.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, execaSync } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../../libs/docker/src";
import { createDockerWorkspace, dockerFixture, makeTestBase, requireDockerEnvironment, testAlpine, type DockerEnvironment } from "../docker";
import { publishedProblems } from "../published";
import type { Workspace } from "../workspace";

let env: DockerEnvironment;
let ws: Workspace;
let dir: string;
let storage: string;
const registries: ChildProcess[] = [];
let deleting: string;
let refusing: string;
const report: string[] = [];

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });

async function startRegistry(name: string, deletes: boolean): Promise<string> {
  const port = await freePort();
  const config = join(dir, `${name}.yml`);
  writeFileSync(
    config,
    [
      "version: 0.1",
      "log: { level: warn }",
      "storage:",
      `  filesystem: { rootdirectory: ${storage} }`,
      `  delete: { enabled: ${deletes} }`,
      `http: { addr: "127.0.0.1:${port}" }`,
      `auth:`,
      `  htpasswd: { realm: obi, path: ${join(dir, "htpasswd")} }`,
    ].join("\n") + "\n",
  );
  const child = spawn("docker-registry", ["serve", config], { stdio: "ignore" });
  registries.push(child);
  const host = `127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    const code = execaSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", `http://${host}/v2/`], { reject: false }).stdout;
    if (code === "401") return host;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`docker-registry (${name}) did not come up on ${host}`);
}

const bytesOnDisk = () => Number(execaSync("du", ["-sb", storage]).stdout.split("\t")[0]);
const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** An old staging image nothing names: a config saying it was built on `created`, and one layer of random bytes. */
async function pushOldImage(client: RegistryClient, repo: string, tag: string, created: string, layerBytes: number): Promise<void> {
  const layer = randomBytes(layerBytes);
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", created, rootfs: { type: "layers", diff_ids: [sha(layer)] }, config: {} }));
  await client.pushBlob(repo, sha(layer), layer);
  await client.pushBlob(repo, sha(config), config);
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha(config), size: config.length },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha(layer), size: layer.length }],
  };
  await client.putManifest(`${repo}:${tag}`, { mediaType: manifest.mediaType, bytes: Buffer.from(JSON.stringify(manifest)) });
}

const OLD = ["build-old1", "build-old2", "build-old3"];

beforeAll(async () => {
  env = requireDockerEnvironment();
  dir = mkdtempSync(join(tmpdir(), "obi-prune-registry-"));
  storage = join(dir, "storage");
  // The same user and password as the shared registry, so the workspace logs in the same way.
  writeFileSync(join(dir, "htpasswd"), execaSync("htpasswd", ["-Bin", env.username], { input: readFileSync(env.passwordFile, "utf8").trim() }).stdout + "\n");
  deleting = await startRegistry("deleting", true);
  refusing = await startRegistry("refusing", false);
  const client = new RegistryClient({ credentials: (r) => (r === deleting || r === refusing ? env.credentials : undefined) });
  const mine: DockerEnvironment = { ...env, registry: deleting, client };
  const prefix = `${deleting}/p`;
  await makeTestBase(mine, `${prefix}/base/alpine:3.24`, [], ["amd64"]);
  for (const [i, tag] of OLD.entries()) await pushOldImage(client, `${prefix}/opam-staging`, tag, `2026-0${i + 1}-01T00:00:00Z`, 512 * 1024);
  ws = createDockerWorkspace(
    mine,
    prefix,
    dockerFixture([testAlpine(prefix, "alpine-3.24", "3.24", "3.24", { amd64: "" }, { default: true, aliases: ["alpine"] })], { releases: ["5.4.1"] }),
  );
}, 600_000);

afterAll(() => {
  ws?.dispose();
  for (const child of registries) child.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (report.length) process.stdout.write(`${report.join("\n")}\n`);
});

const staging = () => env && `${deleting}/p/opam-staging`;
const tagsNow = async () => (await new RegistryClient({ credentials: (r) => (r === deleting ? env.credentials : undefined) }).listTags(staging())).sort();

describe("nx run images:prune-staging", () => {
  it("is a dry run by default: lists the old manifests nothing names and the bytes they hold, and deletes nothing", async () => {
    const before = await tagsNow();
    const result = await ws.nxOk(["run", "images:prune-staging"]);
    for (const tag of OLD) expect(result.all).toMatch(new RegExp(`would delete ${staging()}@sha256:[0-9a-f]{64} \\(${tag}; built 2026-0`));
    expect(result.all).toMatch(/3 of 3 staging manifest\(s\), 3 tag\(s\), 1\.5 MiB only they use/);
    expect(result.all).toContain("a dry run: nothing deleted; --confirm deletes");
    expect(await tagsNow()).toEqual(before);
  });

  it("says in one line that a registry refusing deletes refuses them, and deletes nothing", async () => {
    const before = await tagsNow();
    const result = await ws.nx(["run", "images:prune-staging", "--confirm"], {
      OBI_STAGING_REPO: `${refusing}/p/opam-staging`,
      OBI_PUBLIC_REPO: `${refusing}/p/opam`,
      OBI_REGISTRY_SERVER: refusing,
    });
    expect(result.exitCode).not.toBe(0);
    const lines = result.all.split("\n").filter((l) => l.startsWith("prune-staging:"));
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^prune-staging: ${refusing.replace(/\./g, "\\.")} refuses deletes \\(HTTP 405\\): enable them`))]);
    expect(await tagsNow()).toEqual(before);
  });

  it("with --confirm, prunes while a publish runs: the publish succeeds and what it published is whole; the old manifests are gone", async () => {
    const tagsBefore = await tagsNow();
    const bytesBefore = bytesOnDisk();
    const publishing = ws.nx(["run-many", "-t", "publish", "--exclude=archive", "--outputStyle=static"]);
    let done = false;
    void publishing.then(() => (done = true));
    let prunes = 0;
    while (!done || prunes === 0) {
      const prune = await ws.nx(["run", "images:prune-staging", "--confirm"]);
      expect(prune.exitCode, prune.all.slice(-2000)).toBe(0);
      prunes++;
    }
    const published = await publishing;
    expect(published.exitCode, published.all.slice(-3000)).toBe(0);
    const client = new RegistryClient({ credentials: (r) => (r === deleting ? env.credentials : undefined) });
    expect(await publishedProblems(ws, client, `${deleting}/p/opam`, (ref) => ref)).toEqual([]);
    const tagsAfter = await tagsNow();
    expect(tagsAfter.filter((t) => OLD.includes(t))).toEqual([]);
    // Nothing it published is pruned afterwards either: every staging manifest left is named or new.
    const again = await ws.nxOk(["run", "images:prune-staging", "--confirm"]);
    expect(again.all).toMatch(/^0 of \d+ staging manifest\(s\)/m);
    const bytesBeforeGc = bytesOnDisk();
    await execa("docker-registry", ["garbage-collect", join(dir, "deleting.yml")]);
    const bytesAfter = bytesOnDisk();
    // The three old layers (512 KiB each) are freed.
    expect(bytesBeforeGc - bytesAfter).toBeGreaterThanOrEqual(3 * 512 * 1024);
    report.push(
      `prune during publish (${prunes} prune run(s)): staging tags ${tagsBefore.length} before (${tagsBefore.join(", ")}), ` +
        `${tagsAfter.length} after the publish and prune (${tagsAfter.join(", ")}); registry storage ${bytesBefore} bytes before, ${bytesBeforeGc} after the publish and prune, ${bytesAfter} after garbage-collect`,
    );
  }, 1_200_000);
});
