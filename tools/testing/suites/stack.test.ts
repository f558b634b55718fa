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
    const env = /^ {4}environment:\n((?: {6}.*\n)*)/m.exec(text)?.[1] ?? "";
    const keys = [...env.matchAll(/^ {6}([A-Z0-9_]+):/gm)].map((m) => m[1]);
    expect(keys.sort()).toEqual(["OBI_BUILDER_ARM64", "OBI_BUILDER_S390X", "OBI_DRY_RUN", "OBI_PUBLIC_REPO", "OBI_REGISTRY_PASSWORD_FILE", "OBI_REGISTRY_USER", "OBI_STAGING_REPO"]);
    expect(env).not.toMatch(/PASSWORD:|TOKEN|_KEY:/);
  });
});
