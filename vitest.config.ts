import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    setupFiles: ["test/support/guard-warning.ts"],
    testTimeout: 20_000,
    pool: "forks",
  },
});
