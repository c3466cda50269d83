import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { testSecretsAdapter, testSecretsAdapterModel } from "../../src/testing/index.js";
import { LocalAdapter } from "./index.js";
import { localOptionsSchema } from "./options.js";

const directory = mkdtempSync(join(tmpdir(), "omnisecret-local-contract-"));

testSecretsAdapter("local", {
  // One database for the whole suite, as an application would have; prefixes keep tests apart.
  createAdapter: (context) =>
    new LocalAdapter(v.parse(localOptionsSchema, { provider: "local", path: join(directory, "secrets.db") }), context),
});

testSecretsAdapter("local", {
  createAdapter: (context) =>
    new LocalAdapter(v.parse(localOptionsSchema, { provider: "local", path: join(directory, "secrets.db") }), context),
  cache: { ttlMs: 60_000, maxEntries: 100 },
});

testSecretsAdapterModel("local", {
  createAdapter: (context) =>
    new LocalAdapter(v.parse(localOptionsSchema, { provider: "local", path: join(directory, "secrets.db") }), context),
});
testSecretsAdapterModel("local", {
  createAdapter: (context) =>
    new LocalAdapter(v.parse(localOptionsSchema, { provider: "local", path: join(directory, "secrets.db") }), context),
  cache: { ttlMs: 60_000, maxEntries: 100 },
});
