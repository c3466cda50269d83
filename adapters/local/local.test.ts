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

// Versions (issue 23): the shared suites' rotation, history and token checks on a store keeping 2.
const keepingTwo = (context: { prefix: string }) =>
  new LocalAdapter(
    v.parse(localOptionsSchema, { provider: "local", path: join(directory, "versions.db"), keepVersions: 2 }),
    context,
  );
testSecretsAdapter("local (keepVersions 2)", { createAdapter: keepingTwo, versions: { keepVersions: 2 } });
testSecretsAdapterModel("local (keepVersions 2)", { createAdapter: keepingTwo, versions: { keepVersions: 2 } });
