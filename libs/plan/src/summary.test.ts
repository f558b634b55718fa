import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadMatrix } from "../../matrix/src";
import { committedPlan, printSummary, printSummaryDiff } from ".";

const matrix = loadMatrix(join(__dirname, "../../.."));
const plan = committedPlan(matrix);

describe("printSummaryDiff", () => {
  it("is empty when the plans' summaries are the same", () => {
    expect(printSummaryDiff(plan, committedPlan(matrix))).toBe("");
  });

  it("marks a distro gone (-) or added (+) with its counts, and the totals before → after", () => {
    const without = committedPlan({ ...matrix, distros: matrix.distros.filter((d) => d.name !== "fedora-43") });
    const row = printSummary(plan).split("\n").find((line) => line.startsWith("fedora-43 ")) ?? "";
    const [, arches, images, builds] = /^fedora-43\s+(\S+(?: \S+)*?)\s+(\d+)\s+(\d+)/.exec(row) ?? [];
    const removed = printSummaryDiff(plan, without);
    expect(removed).toMatch(new RegExp(`^- fedora-43\\s+${arches}\\s+${images}\\s+${builds}\\s`, "m"));
    expect(removed).toMatch(new RegExp(`^\\s+total\\s+\\d+ arches\\s+${plan.images.length} → ${plan.images.length - Number(images)}\\s`, "m"));
    expect(printSummaryDiff(without, plan)).toMatch(/^\+ fedora-43\s/m);
  });
});
