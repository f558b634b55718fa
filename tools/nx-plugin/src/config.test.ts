import { execaSync } from "execa";
import { describe, expect, it } from "vitest";
import { parsePluginOptions, rebuildPeriodCommand } from "./config";
import { rebuildPeriod } from "./settings";

describe("rebuild periods", () => {
  it("are the same whether Nx's runtime input or the build executor computes them", () => {
    for (const now of ["2026-01-01T00:00:00Z", "2026-03-05T23:59:59Z", "2026-03-06T00:00:00Z"]) {
      for (const days of [1, 7, 30]) {
        const env = { ...process.env, OBI_NOW: now };
        const shell = execaSync("sh", ["-c", rebuildPeriodCommand(days)], { env }).stdout.trim();
        expect(shell, `${now} ${days}`).toBe(rebuildPeriod(days, env));
      }
    }
  });

  it("change every `days` days, counted from the epoch, and never when turned off", () => {
    const at = (iso: string) => rebuildPeriod(7, { OBI_NOW: iso });
    // 1970-01-01 was a Thursday, so weekly periods turn on Thursdays.
    expect(at("2026-03-04T23:00:00Z")).toBe(at("2026-02-26T00:00:00Z"));
    expect(at("2026-03-05T00:00:00Z")).not.toBe(at("2026-03-04T23:59:59Z"));
    expect(rebuildPeriod(0, { OBI_NOW: "2026-03-05T00:00:00Z" })).toBe("none");
    expect(() => rebuildPeriod(7, { OBI_NOW: "next tuesday" })).toThrow(/OBI_NOW is not a date/);
  });
});

describe("plugin options", () => {
  it("name the bad option in nx.json", () => {
    expect(() => parsePluginOptions({ builders: { sparc: "x" } })).toThrow(/^nx\.json: plugins\[ocaml-base-images\]\.options\.builders/);
    expect(parsePluginOptions({}).stagingRepo).toBe("localhost:5000/opam-staging");
  });

  it("refuse a repository that is not one, quoting it (issue 12)", () => {
    const prefix = "nx\\.json: plugins\\[ocaml-base-images\\]\\.options";
    expect(() => parsePluginOptions({ stagingRepo: "" })).toThrow(new RegExp(`^${prefix}\\.stagingRepo: "" is not an image repository`));
    expect(() => parsePluginOptions({ publicRepo: "localhost:5000/Opam" })).toThrow(
      new RegExp(`^${prefix}\\.publicRepo: "localhost:5000/Opam" is not an image repository`),
    );
    expect(parsePluginOptions({ stagingRepo: "ghcr.io/ocaml/opam-staging" }).stagingRepo).toBe("ghcr.io/ocaml/opam-staging");
  });
});
