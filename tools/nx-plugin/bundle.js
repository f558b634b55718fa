// @ts-check
/**
 * Runs the plugin and its executors from a bundle of their TypeScript sources,
 * so no nx command loads a TypeScript transpiler, and zod and the libraries load
 * as one file (a quarter of the time of loading them module by module).
 *
 * The bundle is keyed on the content of every source it can contain (every
 * non-test .ts and .js file under libs/ and tools/nx-plugin/src/), the versions of
 * what it bundles and this file, and lives under
 * node_modules/.cache/ocaml-base-images/<key>/. It is never stale: an edit
 * makes a new key, and the first nx command after it builds the new bundle
 * (about half a second, with rolldown, in a child process). So no build step
 * has to be remembered, and a task's hash inputs (the .ts sources) always
 * describe the code that runs.
 *
 * Beside the bundle, code-inputs.json says what each entry's code is made of:
 * the workspace modules in its transitive import closure (static and dynamic
 * imports, from rolldown's module graph) and the packages it bundles or
 * requires. The plugin receives it through `pluginWith` and makes those each
 * target's code inputs, so nothing lists them by hand.
 *
 * Plain JavaScript because it must run before anything can transpile. The
 * sources must not use __dirname or import.meta: the bundle lives elsewhere.
 */
"use strict";
const { createHash } = require("node:crypto");
const { execFileSync } = require("node:child_process");
const { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require("node:fs");
const { join, relative } = require("node:path");

/** The workspace root: this file is tools/nx-plugin/bundle.js. */
const ROOT = join(__dirname, "../..");
const CACHE = join(ROOT, "node_modules/.cache/ocaml-base-images");
/** Bundles kept in the cache; older ones are removed when a new one is built. */
const KEEP = 16;
/** Folders whose .ts sources (tests excepted) may end up in the bundle. */
const SOURCE_DIRS = ["libs", "tools/nx-plugin/src"];
/** The bundle's entry points: the plugin, each executor and each generator. */
const ENTRIES = {
  plugin: "tools/nx-plugin/src/index.ts",
  render: "tools/nx-plugin/src/executors/render.ts",
  build: "tools/nx-plugin/src/executors/build.ts",
  publish: "tools/nx-plugin/src/executors/publish.ts",
  "update-pins": "tools/nx-plugin/src/executors/update-pins.ts",
  status: "tools/nx-plugin/src/executors/status.ts",
  "generator-distro": "tools/nx-plugin/src/generators/distro.ts",
  "generator-deprecate-distro": "tools/nx-plugin/src/generators/deprecate-distro.ts",
  "generator-compiler": "tools/nx-plugin/src/generators/compiler.ts",
  "prune-staging": "tools/nx-plugin/src/executors/prune-staging.ts",
  describe: "tools/nx-plugin/src/executors/describe.ts",
};
/** Packages bundled in (zod loads four times faster as part of one file); every other package stays a require(). */
const BUNDLED_PACKAGES = ["zod"];
/** The file, beside the bundle's entries, that holds each entry's code inputs. */
const CODE_INPUTS = "code-inputs.json";

/** @param {string} dir @param {string[]} into */
function sources(dir, into) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sources(path, into);
    else if (/\.[jt]s$/.test(entry.name) && !/\.test\.[jt]s$/.test(entry.name)) into.push(path);
  }
  return into;
}

/** @param {string} name */
const packageVersion = (name) => JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")).version;

/** The key of the bundle the sources as they are now make. */
function currentKey() {
  const hash = createHash("sha256");
  hash.update(readFileSync(__filename));
  for (const name of [...BUNDLED_PACKAGES, "rolldown"]) hash.update(`\0${name}@${packageVersion(name)}`);
  const files = SOURCE_DIRS.flatMap((dir) => sources(join(ROOT, dir), [])).sort();
  for (const file of files) hash.update(`\0${relative(ROOT, file)}\0`).update(readFileSync(file));
  return hash.digest("hex").slice(0, 24);
}

/** Builds the bundle for `key` unless it is there; returns its folder. @param {string} key */
function ensureBuilt(key) {
  const dir = join(CACHE, key);
  if (existsSync(join(dir, CODE_INPUTS))) return dir;
  try {
    execFileSync(process.execPath, [__filename, "--build", key], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  } catch (e) {
    const stderr = /** @type {{ stderr?: string }} */ (e).stderr ?? String(e);
    throw new Error(`tools/nx-plugin: cannot bundle the plugin from its sources:\n${stderr.trim()}`);
  }
  return dir;
}

/** Runs in the child: bundles every entry into CACHE/<key>, whole or not at all. @param {string} key */
async function build(key) {
  const { build: rolldown } = await import("rolldown");
  const dir = join(CACHE, key);
  const partial = `${dir}.partial-${process.pid}`;
  const input = Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, join(ROOT, file)]));
  /** @type {Map<string, string[]>} each module's static and dynamic imports, by id */
  const imports = new Map();
  await rolldown({
    input,
    platform: "node",
    cwd: ROOT,
    logLevel: "warn",
    plugins: [
      {
        name: "module-graph",
        buildEnd() {
          for (const id of this.getModuleIds()) {
            const info = this.getModuleInfo(id);
            if (info) imports.set(id, [...info.importedIds, ...info.dynamicallyImportedIds]);
          }
        },
      },
    ],
    // Packages stay require()s of node_modules, except those bundled in.
    external: (id) => !id.startsWith(".") && !id.startsWith("/") && !BUNDLED_PACKAGES.some((p) => id === p || id.startsWith(`${p}/`)),
    output: { dir: partial, format: "cjs", entryFileNames: "[name].js", chunkFileNames: "[name]-[hash].js" },
  });
  // Written last: its presence marks the bundle complete.
  writeFileSync(join(partial, CODE_INPUTS), `${JSON.stringify(codeInputs(input, imports), null, 2)}\n`);
  try {
    renameSync(partial, dir);
  } catch {
    // Another process built the same key first; its bundle is the same.
    rmSync(partial, { recursive: true, force: true });
  }
  const others = readdirSync(CACHE)
    .filter((name) => name !== key && !name.includes(".partial-"))
    .map((name) => ({ name, mtime: statSync(join(CACHE, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const old of others.slice(KEEP - 1)) rmSync(join(CACHE, old.name), { recursive: true, force: true });
}

/**
 * Per entry, its transitive import closure: workspace modules (relative paths,
 * sorted) and packages (bundled ones, found by their node_modules path, and
 * required ones, by their bare name; node's own modules left out).
 * @param {Record<string, string>} input @param {Map<string, string[]>} imports
 */
function codeInputs(input, imports) {
  /** @type {Record<string, { modules: string[], packages: string[] }>} */
  const out = {};
  for (const [name, entry] of Object.entries(input)) {
    const seen = new Set([entry]);
    for (const id of seen) for (const next of imports.get(id) ?? []) seen.add(next);
    const modules = new Set();
    const packages = new Set();
    for (const id of seen) {
      if (id.startsWith("node:")) continue;
      const inModules = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(id);
      if (inModules) packages.add(String(inModules[1]).replace(/\\/g, "/"));
      else if (!id.startsWith("/")) packages.add(id.startsWith("@") ? id.split("/").slice(0, 2).join("/") : id.split("/")[0]);
      else modules.add(relative(ROOT, id).split("\\").join("/"));
    }
    out[name] = { modules: [...modules].sort(), packages: [...packages].sort() };
  }
  return out;
}

/** The module of one entry (`plugin`, `render`, …) of the current bundle. @param {keyof typeof ENTRIES} entry */
function load(entry) {
  return require(join(ensureBuilt(currentKey()), `${entry}.js`));
}

/** The code inputs of every entry of the bundle in `dir`. @param {string} dir */
const readCodeInputs = (dir) => JSON.parse(readFileSync(join(dir, CODE_INPUTS), "utf8"));

/**
 * The plugin of the bundle of `key`, given that bundle's code inputs. Built again once if
 * it went missing between the check and the read (another checkout sharing node_modules
 * evicted it). @param {string} key @returns {Record<string, any>}
 */
function pluginOf(key) {
  for (let attempt = 0; ; attempt++) {
    const dir = ensureBuilt(key);
    try {
      return require(join(dir, "plugin.js")).pluginWith(readCodeInputs(dir));
    } catch (e) {
      if (attempt > 0 || /** @type {{ code?: string }} */ (e).code !== "ENOENT" && /** @type {{ code?: string }} */ (e).code !== "MODULE_NOT_FOUND") throw e;
    }
  }
}

/**
 * The plugin's exports. Each function (also the one in a `[glob, fn]` tuple)
 * checks the sources on every call and runs the current bundle's, so a
 * long-lived process (the Nx daemon, which runs the plugin in-process with
 * isolation off) never computes the graph with code older than the sources.
 */
function plugin() {
  let key = currentKey();
  let current = pluginOf(key);
  const fresh = () => {
    const now = currentKey();
    if (now !== key) {
      current = pluginOf(now);
      key = now;
    }
    return current;
  };
  /** @type {Record<string, unknown>} */
  const exported = {};
  /** @type {Map<unknown, string>} the first name of each value, so aliases (createNodesV2) stay aliases */
  const names = new Map();
  for (const [name, value] of Object.entries(current)) {
    const alias = names.get(value);
    if (alias !== undefined) exported[name] = exported[alias];
    else if (typeof value === "function") exported[name] = (/** @type {unknown[]} */ ...args) => fresh()[name](...args);
    else if (Array.isArray(value) && typeof value[0] === "string" && typeof value[1] === "function") {
      exported[name] = [value[0], (/** @type {unknown[]} */ ...args) => fresh()[name][1](...args)];
    } else exported[name] = value;
    if (alias === undefined) names.set(value, name);
  }
  return exported;
}

/** The code inputs of the current bundle's entries (see codeInputs). */
const currentCodeInputs = () => readCodeInputs(ensureBuilt(currentKey()));

module.exports = { load, plugin, currentKey, ensureBuilt, currentCodeInputs, ENTRIES };

if (require.main === module && process.argv[2] === "--build") {
  build(String(process.argv[3])).catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
