import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Examples import the package by name; in tests that name means these sources, not dist/.
const alias = {
  "omnisecret/testing": fileURLToPath(new URL("./src/testing/index.ts", import.meta.url)),
  omnisecret: fileURLToPath(new URL("./src/index.ts", import.meta.url)),
};

export default defineConfig({
  resolve: { alias },
  test: {
    reporters: ["default", "./test-support/summary-reporter.ts"],
    projects: [
      {
        resolve: { alias },
        test: {
          name: "unit",
          include: ["src/**/*.test.ts", "adapters/**/*.test.ts", "examples/**/*.test.ts"],
          globalSetup: ["test-support/build-dist.ts"],
        },
      },
      {
        resolve: { alias },
        test: {
          name: "integration",
          include: ["integration-tests/**/*.test.ts"],
          // Opt-in servers' files are not collected at all unless opted in, so that a run shows
          // no skipped tests for them (the file fails, not skips, when opted in without its server).
          exclude: [
            "**/node_modules/**",
            ...(process.env.OMNISECRET_TEST_VAULT_HASHICORP
              ? []
              : ["integration-tests/servers/vault/hashicorp.test.ts"]),
          ],
          // Builds dist/ for the fresh-process checks, then installs and starts the servers.
          globalSetup: ["test-support/build-dist.ts", "integration-tests/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
