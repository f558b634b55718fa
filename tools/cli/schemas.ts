/**
 * Writes the JSON Schemas generated from the zod schemas: the files under
 * images/ (images/schema/*.schema.json), so editors complete and check them,
 * and the Nx executors' options (tools/nx-plugin/src/executors/*.schema.json),
 * which `nx run … --help` lists and Nx checks, and the generators' options
 * (tools/nx-plugin/src/generators/*.schema.json). With --check, only reports
 * whether the committed schemas are current.
 */
import { lstatSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import { IMAGES_LAYOUT, SCHEMAS } from "../../libs/matrix/src";
import { readImagesFile } from "../../libs/matrix/src/read";
import { readCommandLine } from "./cli";
import { renderExecutorSchemas } from "../nx-plugin/src/executors/options";
import { renderGeneratorSchemas } from "../nx-plugin/src/generators/options";
import { statusSchema } from "../../libs/status/src";

export function renderSchemas(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
    files.set(IMAGES_LAYOUT.schemaFile(name), JSON.stringify(json, null, 2) + "\n");
  }
  for (const [file, text] of renderExecutorSchemas()) files.set(file, text);
  for (const [file, text] of renderGeneratorSchemas()) files.set(file, text);
  // Not a file under images/, but published beside their schemas: status.json, what is built (nx run images:status).
  const status = z.toJSONSchema(statusSchema, { io: "output", unrepresentable: "any" });
  files.set(IMAGES_LAYOUT.schemaFile("status"), JSON.stringify(status, null, 2) + "\n");
  return files;
}

const SCHEMAS_CLI = {
  name: "schemas",
  usage: "npm run -s schemas [-- --check]",
  summary: "Writes the JSON Schemas generated from the zod schemas: images/schema/ and the Nx executors' option schemas.",
  options: {
    check: { kind: "flag", description: "write nothing; fail (exit 1) naming each schema file that is out of date" },
  },
} as const;

function main(argv: readonly string[]): number {
  const root = process.cwd();
  const { check } = readCommandLine(SCHEMAS_CLI, argv);
  let stale = 0;
  for (const [file, text] of renderSchemas()) {
    const path = join(root, file);
    let current: string | undefined;
    if (file.startsWith(`${IMAGES_LAYOUT.dir}/`) && lstatSync(path, { throwIfNoEntry: false })) {
      // Read like every file of images/: a link or a FIFO there is refused, never read or written through.
      const source = readImagesFile(root, file);
      if (source.kind === "refused") {
        process.stderr.write(`${source.problem}\n`);
        stale++;
        continue;
      }
      current = source.text;
    } else {
      try {
        current = readFileSync(path, "utf8");
      } catch {
        current = undefined;
      }
    }
    if (current === text) continue;
    if (check) {
      process.stderr.write(`${file} is out of date: run npm run schemas\n`);
      stale++;
    } else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      process.stdout.write(`wrote ${file}\n`);
    }
  }
  return stale ? 1 : 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
