import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["libs/**/*.test.ts", "tools/**/*.test.ts"],
    // Tests that drive the real nx binary or Docker take longer than unit tests.
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
