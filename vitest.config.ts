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
    projects: [
      {
        resolve: { alias },
        test: {
          name: "unit",
          globalSetup: ["test-support/build-dist.ts"],
          include: ["src/**/*.test.ts", "adapters/**/*.test.ts", "examples/**/*.test.ts"],
        },
      },
    ],
  },
});
