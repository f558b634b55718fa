import { defineConfig } from "vitest/config";

/**
 * Three projects, by what a test needs (`vitest run --project NAME`):
 * - unit: the code alone, beside its sources; no nx binary, engine, registry or browser.
 * - integration: the suites in tools/testing/suites/ that drive the real nx binary, Docker
 *   engines, registries, sshd, Prometheus or a swarm (brought up by tools/ci/test.sh).
 * - browser: the suites that drive Debian's Chromium.
 */
const SUITES = "tools/testing/suites/**";
const BROWSER = "**/*.browser.test.ts";

export default defineConfig({
  test: {
    // Some unit tests start node processes (the command-line tools); real nx, Docker and
    // registries take longer still. Each project extends this.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["libs/**/*.test.ts", "tools/**/*.test.ts"],
          exclude: [SUITES, BROWSER, "**/node_modules/**"],
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: [`${SUITES}/*.test.ts`],
          exclude: [BROWSER],
        },
      },
      {
        extends: true,
        test: {
          name: "browser",
          include: [BROWSER],
          exclude: ["**/node_modules/**"],
        },
      },
    ],
  },
});
