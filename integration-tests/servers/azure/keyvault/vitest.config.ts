import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Runs only this server's own tests, without the integration project's global setup (which builds
// and starts every other provider's server): the tests here start the server they need.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../../../..", import.meta.url)),
    include: ["integration-tests/servers/azure/keyvault/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
