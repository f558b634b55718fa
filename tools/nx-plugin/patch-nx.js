#!/usr/bin/env node
/**
 * Fixes one bug of Nx 24.0.0 in node_modules (run by `npm install`, as postinstall; idempotent).
 *
 * Nx's batch worker (nx/dist/src/tasks-runner/batch/run-batch.js, runTasks) checks each task's
 * options against the executor's schema (combineOptionsForExecutor, line 35) before its
 * try block (line 37). A value of the wrong type (`--dryRun=maybe`) then throws outside it:
 * an unhandled rejection that kills the worker, and Nx's one-line message is lost. The same
 * check outside a batch is reported as a failed task in one line. This moves the `try {` up
 * to before that loop, so the worker's own catch prints the message and exits 1, as it does
 * for any other failure of the batch. README: "Typed options and Nx's batch worker".
 */
"use strict";
const { readFileSync, writeFileSync } = require("node:fs");
const { dirname, join } = require("node:path");

const MARK = "/* try moved before the options check: tools/nx-plugin/patch-nx.js */";

function patch(root) {
  let nxDir;
  try {
    nxDir = dirname(require.resolve("nx/package.json", { paths: [root] }));
  } catch {
    return "nx is not installed; nothing to patch";
  }
  const file = join(nxDir, "dist/src/tasks-runner/batch/run-batch.js");
  const text = readFileSync(file, "utf8");
  if (text.includes(MARK)) return `${file}: already patched`;
  // The loop that checks every task's options, then the try that should have covered it.
  const loop = text.indexOf("\n    for (const task of tasks) {\n");
  const check = text.indexOf("combineOptionsForExecutor", loop);
  const tryAt = text.indexOf("\n    try {\n", loop);
  if (loop < 0 || check < 0 || tryAt < 0 || !(check < tryAt)) {
    // Another Nx: the tests of a wrong-typed option in a batch (tools/testing/suites/typed-options.test.ts) say whether it is still needed.
    return `${file}: the options check is not where Nx 24.0.0 has it; not patched`;
  }
  const patched = `${text.slice(0, loop)}\n    try { ${MARK}${text.slice(loop, tryAt)}${text.slice(tryAt + "\n    try {".length)}`;
  writeFileSync(file, patched);
  return `${file}: patched (the batch worker's options check is inside its try)`;
}

const USAGE = `Fixes Nx 24.0.0's batch worker in node_modules (npm install runs it; idempotent).

usage: npm run postinstall [-- <workspace root>]

options:
  --help  print this help
`;

/** The command line: `--help`, an optional workspace root, and nothing else (one-line refusal, exit 2). */
function main(argv) {
  if (argv.includes("--help")) return { out: USAGE, code: 0 };
  const flag = argv.find((arg) => arg.startsWith("-"));
  if (flag !== undefined) return { err: `patch-nx: unknown option ${JSON.stringify(flag)} (see --help)\n`, code: 2 };
  if (argv.length > 1) return { err: `patch-nx: unexpected argument ${JSON.stringify(argv[1])} (see --help)\n`, code: 2 };
  return { out: `patch-nx: ${patch(argv[0] ?? join(__dirname, "../.."))}\n`, code: 0 };
}

if (require.main === module) {
  const { out, err, code } = main(process.argv.slice(2));
  // A reader that goes away (`| head`) is not an error of ours.
  process.stdout.on("error", () => process.exit(code));
  if (out) process.stdout.write(out);
  if (err) process.stderr.write(err);
  process.exitCode = code;
}

module.exports = { patch, MARK };
