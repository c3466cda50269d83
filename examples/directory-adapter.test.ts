import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { createCustomAdapter, customOptionsSchema } from "../src/custom-adapter.js";
import { testSecretsAdapter, testSecretsAdapterModel } from "../src/testing/index.js";

const directory = mkdtempSync(join(tmpdir(), "omnisecret-custom-contract-"));

// Loaded exactly as a user's config would load it: provider "custom" with a module path.
const createAdapter = (context: { prefix: string }) =>
  createCustomAdapter(
    v.parse(customOptionsSchema, {
      provider: "custom",
      prefix: context.prefix,
      module: "./examples/directory-adapter.mjs",
      options: { directory },
    }),
    context,
  );

testSecretsAdapter("custom (examples/directory-adapter.mjs)", { createAdapter });
testSecretsAdapter("custom (examples/directory-adapter.mjs)", {
  createAdapter,
  cache: { ttlMs: 60_000, cacheNotFound: true },
});
testSecretsAdapterModel("custom (examples/directory-adapter.mjs)", { createAdapter });
testSecretsAdapterModel("custom (examples/directory-adapter.mjs)", {
  createAdapter,
  cache: { ttlMs: 60_000, cacheNotFound: true },
});
