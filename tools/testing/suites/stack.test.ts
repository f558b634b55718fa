/**
 * tools/service/stack.yml: `docker stack config` (the docker CLI's own check of a
 * stack file) accepts it, and refuses a broken copy; its secrets are external
 * and mounted where the settings say (DEPLOYED_SECRETS), its environment holds
 * paths and switches only, and a deployment is a dry run unless told otherwise.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { DEPLOYED_SECRETS } from "../../nx-plugin/src/settings";
import { PROJECT_ROOT } from "../workspace";

const DIR = join(PROJECT_ROOT, "tools/service");
const text = readFileSync(join(DIR, "stack.yml"), "utf8");
const scratch = mkdtempSync(join(tmpdir(), "obi-stack-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const stackConfig = (dir: string, env: Record<string, string> = {}) =>
  execa("docker", ["stack", "config", "-c", "stack.yml"], { cwd: dir, reject: false, all: true, timeout: 60_000, env });

describe("stack.yml", () => {
  it("is accepted by docker stack config, with three services and the image given", async () => {
    const r = await stackConfig(DIR, { OBI_SERVICE_IMAGE: "127.0.0.1:5000/obi/service:abc", OBI_DRY_RUN: "0" });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/^services:\n {2}cache:/m);
    for (const service of ["status", "cache", "pipeline"]) expect(r.stdout).toMatch(new RegExp(`^  ${service}:$`, "m"));
    expect(r.stdout.match(/^ {4}image: 127\.0\.0\.1:5000\/obi\/service:abc$/gm)).toHaveLength(3);
    expect(r.stdout).toContain('OBI_DRY_RUN: "0"');
  });

  it("deploys as a dry run unless OBI_DRY_RUN says otherwise", async () => {
    const r = await stackConfig(DIR);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('OBI_DRY_RUN: "1"');
  });

  it("checks each service's health with bash's /dev/tcp or a file test, never by starting a node", () => {
    const tests = [...text.matchAll(/^ {4}healthcheck:\n((?: {6}.*\n)*)/gm)].map((m) => (m[1] ?? "").replace(/^ *#.*\n/gm, ""));
    expect(tests).toHaveLength(3);
    for (const t of tests) {
      expect(t).toMatch(/- bash|"bash"/);
      expect(t).not.toMatch(/\bnode\b/);
    }
  });

  it("with stack.host.yml, puts every service on the host's network, its ports and the cache's config from variables", async () => {
    const r = await execa("docker", ["stack", "config", "-c", "stack.yml", "-c", "stack.host.yml"], {
      cwd: DIR,
      reject: false,
      all: true,
      timeout: 60_000,
      env: { OBI_STATUS_BIND: "127.0.0.1", OBI_STATUS_PORT_MODE: "host", OBI_STATUS_LISTEN_PORT: "18123", OBI_STATUS_PORT: "18123", OBI_CACHE_PORT: "18124", OBI_CACHE_CONFIG_FILE: "/etc/obi/cache.json" },
    });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout.match(/^ {4}networks:\n {6}host-network: null$/gm)).toHaveLength(3);
    expect(r.stdout).toMatch(/^networks:\n {2}host-network:\n {4}name: host\n {4}external: true$/m);
    expect(r.stdout).toContain("- --host=127.0.0.1");
    expect(r.stdout).toMatch(/- mode: host\n {8}target: 18123\n {8}published: 18123/);
    expect(r.stdout).toContain("/dev/tcp/127.0.0.1/18124");
    expect(r.stdout).toMatch(/cache-server:\n {4}name: [\w-]*cache-server\n {4}file: \/etc\/obi\/cache\.json|cache-server:\n {4}file: \/etc\/obi\/cache\.json/);
  });

  it("refuses a broken copy (the check is real)", async () => {
    writeFileSync(join(scratch, "stack.yml"), text.replace("  cache:\n    image: *image", "  cache:\n    image: *image\n    restart_when: sometimes"));
    copyFileSync(join(DIR, "cache-server.json"), join(scratch, "cache-server.json"));
    const r = await stackConfig(scratch);
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toMatch(/restart_when/);
  });

  it("takes every secret from outside, mounted where the settings point", () => {
    const declared = /^secrets:\n((?: {2}.*\n?)*)/m.exec(text)?.[1] ?? "";
    const names = [...declared.matchAll(/^ {2}([a-z0-9-]+): \{ external: true \}$/gm)].map((m) => m[1]);
    expect(names.length).toBe(declared.trim().split("\n").length);
    expect(names.map((n) => `/run/secrets/${n}`).sort()).toEqual(Object.values(DEPLOYED_SECRETS).sort());
    // Every path the services name under /run/secrets is one of those.
    for (const m of text.matchAll(/\/run\/secrets\/([a-z0-9-]+)/g)) expect(names).toContain(m[1]);
  });

  it("keeps values out of the environment: only paths, repositories, hosts and switches", () => {
    const blocks = [...text.matchAll(/^ {2}(\w+):\n(?: {4}.*\n)*? {4}environment:\n((?: {6}.*\n)*)/gm)].map((m) => [m[1], m[2] ?? ""] as const);
    const keysOf = (env: string) => [...env.matchAll(/^ {6}([A-Z0-9_]+):/gm)].map((m) => m[1]).sort();
    expect(blocks.map(([service, env]) => [service, keysOf(env)])).toEqual([
      // The status page reads the records made for the pipeline's repositories.
      ["status", ["OBI_PUBLIC_REPO", "OBI_STAGING_REPO"]],
      ["pipeline", ["OBI_BUILDER_ARM64", "OBI_BUILDER_S390X", "OBI_DRY_RUN", "OBI_PUBLIC_REPO", "OBI_REGISTRY_PASSWORD_FILE", "OBI_REGISTRY_USER", "OBI_STAGING_REPO"]],
    ]);
    for (const [, env] of blocks) expect(env).not.toMatch(/PASSWORD:|TOKEN|_KEY:/);
  });
});
