import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { createCustomAdapter, customOptionsSchema } from "../src/custom-adapter.js";
import { SecretIntegrityError } from "../src/errors.js";
import { markedSecretValue, testSecretsAdapter, testSecretsAdapterModel } from "../src/testing/index.js";

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

describe("examples/directory-adapter.mjs with a stored file that is not JSON", () => {
  it("throws SecretIntegrityError without quoting the file", async () => {
    const adapter = await createAdapter({ prefix: "corrupted" });
    const id = randomUUID();
    const secret = markedSecretValue();
    await adapter.storeSecretValues(id, { pw: secret }, JSON.stringify({ pw: secret }));
    writeFileSync(join(directory, "corrupted", `${id}.json`), `{"pw":${secret}}`);
    const error = await Promise.resolve(adapter.getSecretValues(id)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SecretIntegrityError);
    expect(error).toMatchObject({ code: "E_SECRET_INTEGRITY", secretId: id });
    const text = `${inspect(error, { depth: 10 })}\n${(error as Error).stack}`;
    for (const part of [secret.slice(0, 10), '"pw"', "Unexpected token", "not valid JSON"]) {
      expect(text).not.toContain(part);
    }
  });
});
