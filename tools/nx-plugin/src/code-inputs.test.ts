/**
 * Each cached target's code inputs are exactly the modules its executor loads.
 * The closure is computed here independently of the bundler: TypeScript parses
 * each module and resolves its runtime imports (static, re-exports, dynamic
 * `import()`; type-only ones are erased and load nothing). A module of the
 * closure that is not an input would let an edit replay a stale output; an
 * input outside it would re-run tasks for edits that cannot change them.
 */
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { loadMatrix } from "../../../libs/matrix/src";
import { makePlan } from "../../../libs/plan/src";
import { PROJECT_ROOT } from "../../testing/workspace";
import { currentCodeInputs, ENTRIES } from "../bundle.js";
import { CACHED_EXECUTORS, parseCodeInputs } from "./code-inputs";
import { parsePluginOptions } from "./config";
import { imagesProject, projectsByFile } from "./nodes";

const COMPILER_OPTIONS = ts.parseJsonConfigFileContent(
  ts.readConfigFile(join(PROJECT_ROOT, "tsconfig.base.json"), ts.sys.readFile).config,
  ts.sys,
  PROJECT_ROOT,
).options;

/** The specifiers a module loads when it runs. */
function runtimeImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const bindings = clause?.namedBindings;
      const onlyTypes =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined && bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly)));
      if (!onlyTypes) found.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.exportClause;
      const onlyTypes = node.isTypeOnly || (clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly));
      if (!onlyTypes) found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteral(arg)) found.push(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const packageOf = (specifier: string): string => specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/");

/** An executor's closure: workspace modules (relative paths) and the packages they load. */
function closure(entry: string): { modules: Set<string>; packages: Set<string> } {
  const modules = new Set<string>();
  const packages = new Set<string>();
  const queue = [join(PROJECT_ROOT, entry)];
  for (const file of queue) {
    const path = relative(PROJECT_ROOT, file);
    if (modules.has(path)) continue;
    modules.add(path);
    for (const specifier of runtimeImports(file)) {
      if (!specifier.startsWith(".")) {
        if (!specifier.startsWith("node:") && !builtinModules.includes(specifier)) packages.add(packageOf(specifier));
        continue;
      }
      const resolved = ts.resolveModuleName(specifier, file, COMPILER_OPTIONS, ts.sys).resolvedModule;
      if (!resolved) throw new Error(`${path}: cannot resolve ${specifier}`);
      queue.push(resolved.resolvedFileName);
    }
  }
  return { modules, packages };
}

/** Every file under libs/ and tools/ (node_modules aside), to expand the inputs' globs over. */
function workspaceFiles(dir = PROJECT_ROOT, into: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (dir !== PROJECT_ROOT || ["libs", "tools"].includes(entry.name)) workspaceFiles(path, into);
    } else into.push(relative(PROJECT_ROOT, path));
  }
  return into;
}

const globToRegExp = (glob: string): RegExp =>
  new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*\*\//g, "\0").replace(/\*/g, "[^/]*").replace(/\0/g, "(?:.*/)?")}$`);

/** The workspace files a target's file inputs name (named inputs, globs and negations expanded), and its external dependencies. */
function inputsOf(inputs: readonly unknown[], files: readonly string[], named: Readonly<Record<string, readonly unknown[]>> = {}): { files: Set<string>; external: Set<string> } {
  const out = new Set<string>();
  const external = new Set<string>();
  const expand = (list: readonly unknown[]): unknown[] => list.flatMap((input) => (typeof input === "string" && named[input] ? expand(named[input] ?? []) : [input]));
  for (const input of expand(inputs)) {
    if (typeof input === "object" && input !== null && "externalDependencies" in input) {
      for (const name of (input as { externalDependencies: string[] }).externalDependencies) external.add(name);
    }
    if (typeof input !== "string" || !input.includes("{workspaceRoot}/")) continue;
    const negated = input.startsWith("!");
    const pattern = globToRegExp(input.replace(/^!?\{workspaceRoot\}\//, ""));
    for (const file of files.filter((f) => pattern.test(f))) negated ? out.delete(file) : out.add(file);
  }
  return { files: out, external };
}

function everyCachedTarget() {
  const options = parsePluginOptions({});
  const plan = makePlan(loadMatrix(PROJECT_ROOT), { repositories: { staging: options.stagingRepo, public: options.publicRepo }, pins: "commit" });
  const projects = [...projectsByFile(plan, options, parseCodeInputs(currentCodeInputs())).values()].flatMap((byRoot) => Object.values(byRoot));
  projects.push(imagesProject(options));
  return projects.flatMap((project) =>
    Object.entries(project.targets ?? {}).map(([name, target]) => ({
      id: `${project.name}:${name}`,
      target,
      named: project.namedInputs ?? {},
      executor: (target.executor ?? "").split(":")[1] as string,
    })),
  );
}

describe("a cached target's code inputs are its executor's import closure", () => {
  const files = workspaceFiles();
  const targets = everyCachedTarget();

  it("only render, build and publish targets are cached", () => {
    const cached = new Set(targets.filter((t) => t.target.cache === true).map((t) => t.executor));
    expect([...cached].sort()).toEqual([...CACHED_EXECUTORS].sort());
  });

  for (const executor of CACHED_EXECUTORS) {
    it(`${executor}: every module it loads is an input, and no other module is`, () => {
      const entry = (ENTRIES as Record<string, string>)[executor];
      expect(entry, `bundle.js has no entry for ${executor}`).toBeDefined();
      const loaded = closure(entry as string);
      expect(loaded.modules.size).toBeGreaterThan(5);
      const mine = targets.filter((t) => t.executor === executor);
      expect(mine.length).toBeGreaterThan(0);
      // Every target of the executor has the same code inputs; each is checked.
      for (const { id, target, named } of mine) {
        const inputs = inputsOf(target.inputs ?? [], files, named);
        const code = new Set([...inputs.files].filter((f) => /\.[jt]s$/.test(f) && f !== "tools/nx-plugin/bundle.js"));
        const missing = [...loaded.modules].filter((m) => !code.has(m)).sort();
        const extra = [...code].filter((m) => !loaded.modules.has(m)).sort();
        expect(missing, `${id}: modules its executor loads that are not inputs`).toEqual([]);
        expect(extra, `${id}: inputs its executor never loads`).toEqual([]);
        // How the executor is loaded: the bundler, and the versions of the packages it bundles or requires.
        expect(inputs.files, id).toContain("tools/nx-plugin/bundle.js");
        expect([...inputs.external].sort(), id).toEqual([...loaded.packages, "rolldown"].sort());
      }
    });
  }
});
