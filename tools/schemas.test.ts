import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderSchemas } from "./schemas";

describe("images/schema", () => {
  it("is generated from the zod schemas (regenerate with `npm run schemas`)", () => {
    for (const [file, text] of renderSchemas()) {
      expect(readFileSync(join(__dirname, "..", file), "utf8") === text, `${file} is stale`).toBe(true);
    }
  });

  it("lets editors check every arch and family", () => {
    const schema = JSON.parse(renderSchemas().get("images/schema/image.schema.json") ?? "{}");
    expect(schema.properties.family.enum).toContain("windows-server");
    expect(JSON.stringify(schema.properties.arches)).toContain("riscv64");
  });
});
