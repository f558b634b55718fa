import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderSchemas } from "./schemas";

describe("images/schema", () => {
  it("is generated from the zod schemas (regenerate with `npm run schemas`)", () => {
    for (const [file, text] of renderSchemas()) {
      expect(readFileSync(join(__dirname, "../..", file), "utf8") === text, `${file} is stale`).toBe(true);
    }
  });

  it("lets editors check every arch and family", () => {
    const schema = JSON.parse(renderSchemas().get("images/schema/image.schema.json") ?? "{}");
    expect(schema.properties.family.enum).toContain("windows-server");
    expect(JSON.stringify(schema.properties.arches)).toContain("riscv64");
  });
});

describe("the Nx executors' schemas", () => {
  const executors = JSON.parse(readFileSync(join(__dirname, "../nx-plugin/executors.json"), "utf8")).executors as Record<string, { schema: string }>;

  it("are the files executors.json names, generated, in Nx's version 2 format", () => {
    const files = renderSchemas();
    for (const [name, executor] of Object.entries(executors)) {
      const text = files.get(join("tools/nx-plugin", executor.schema));
      expect(text, name).toBeDefined();
      expect(JSON.parse(text ?? "{}")).toMatchObject({ version: 2, type: "object" });
    }
  });

  it("type and describe every option", () => {
    const files = renderSchemas();
    type Property = { type?: string | string[]; description?: string; properties?: Record<string, Property> };
    const check = (where: string, properties: Record<string, Property>) => {
      for (const [name, property] of Object.entries(properties)) {
        // Every option's type, a union's too (a builder: [string,object]): `nx run … --help` shows it.
        expect(property.type, `${where}.${name}`).toBeTruthy();
        expect(property.description, `${where}.${name}`).toBeTruthy();
        if (property.properties) check(`${where}.${name}`, property.properties);
      }
    };
    for (const executor of Object.values(executors)) {
      const schema = JSON.parse(files.get(join("tools/nx-plugin", executor.schema)) ?? "{}") as Property;
      check(executor.schema, schema.properties ?? {});
    }
  });
});

describe("the Nx generators' schemas", () => {
  const generators = JSON.parse(readFileSync(join(__dirname, "../nx-plugin/generators.json"), "utf8")).generators as Record<string, { schema: string; factory: string }>;
  const plugin = JSON.parse(readFileSync(join(__dirname, "../nx-plugin/package.json"), "utf8")) as { generators?: string };

  it("are the files generators.json (named by the plugin's package.json) lists, generated, each with its positional option", () => {
    expect(plugin.generators).toBe("./generators.json");
    const files = renderSchemas();
    expect(Object.keys(generators).sort()).toEqual(["compiler", "deprecate-distro", "distro"]);
    for (const [name, generator] of Object.entries(generators)) {
      const schema = JSON.parse(files.get(join("tools/nx-plugin", generator.schema)) ?? "{}") as { cli?: string; properties?: Record<string, { $default?: unknown }> };
      expect(schema.cli, name).toBe("nx");
      const positional = Object.entries(schema.properties ?? {}).filter(([, p]) => p.$default !== undefined);
      expect(positional, name).toHaveLength(1);
    }
  });
});
