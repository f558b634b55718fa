/**
 * Writes the JSON Schemas of the files under images/ (images/schema/*.schema.json)
 * from the zod schemas, so editors complete and check them. With --check,
 * only reports whether the committed schemas are current.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { SCHEMAS } from "../libs/matrix/src";
import { statusSchema } from "../libs/status/src";

export function renderSchemas(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
    files.set(`images/schema/${name}.schema.json`, JSON.stringify(json, null, 2) + "\n");
  }
  // Not a file under images/, but published beside their schemas: status.json, what is built (nx run images:status).
  const status = z.toJSONSchema(statusSchema, { io: "output", unrepresentable: "any" });
  files.set("images/schema/status.schema.json", JSON.stringify(status, null, 2) + "\n");
  return files;
}

function main(argv: readonly string[]): number {
  const root = process.cwd();
  const check = argv.includes("--check");
  let stale = 0;
  for (const [file, text] of renderSchemas()) {
    const path = join(root, file);
    let current: string | undefined;
    try {
      current = readFileSync(path, "utf8");
    } catch {
      current = undefined;
    }
    if (current === text) continue;
    if (check) {
      process.stderr.write(`${file} is out of date: run npm run schemas\n`);
      stale++;
    } else {
      mkdirSync(join(root, "images/schema"), { recursive: true });
      writeFileSync(path, text);
      process.stdout.write(`wrote ${file}\n`);
    }
  }
  return stale ? 1 : 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
