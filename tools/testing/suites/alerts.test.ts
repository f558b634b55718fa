/**
 * docs/monitoring/alerts.yml: valid for Debian's promtool, every alert covered
 * by its unit tests (alerts.test.yml), and the tests bite: an alert whose
 * bound is loosened fails them.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { requirePrometheus } from "../prometheus";
import { PROJECT_ROOT } from "../workspace";

const DIR = join(PROJECT_ROOT, "docs/monitoring");
const promtool = (args: string[], cwd = DIR) => execa("promtool", args, { cwd, reject: false, all: true, timeout: 60_000 });
const scratch = mkdtempSync(join(tmpdir(), "obi-alerts-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("alert rules", () => {
  it("pass promtool check rules", async () => {
    requirePrometheus();
    const r = await promtool(["check", "rules", "alerts.yml"]);
    expect(r.all).toContain("SUCCESS: 4 rules found");
    expect(r.exitCode).toBe(0);
  });

  it("pass their unit tests, which test every alert", async () => {
    const r = await promtool(["test", "rules", "alerts.test.yml"]);
    expect(r.all).toContain("SUCCESS");
    expect(r.exitCode).toBe(0);
    const alerts = [...readFileSync(join(DIR, "alerts.yml"), "utf8").matchAll(/- alert: (\S+)/g)].map((m) => m[1]);
    const tested = new Set([...readFileSync(join(DIR, "alerts.test.yml"), "utf8").matchAll(/alertname: (\S+)/g)].map((m) => m[1]));
    expect(alerts.filter((a) => !tested.has(a))).toEqual([]);
  });

  it("fail their unit tests when a bound moves (the tests bite)", async () => {
    const rules = readFileSync(join(DIR, "alerts.yml"), "utf8");
    expect(rules).toContain("> 1.5 * baseimages_pipeline_valid_time");
    writeFileSync(join(scratch, "alerts.yml"), rules.replace("> 1.5 * baseimages_pipeline_valid_time", "> 2 * baseimages_pipeline_valid_time"));
    copyFileSync(join(DIR, "alerts.test.yml"), join(scratch, "alerts.test.yml"));
    const r = await promtool(["test", "rules", "alerts.test.yml"], scratch);
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toContain("BaseImagesNoSuccessfulRun");
  });
});
