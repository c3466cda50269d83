import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { createCustomAdapter, customOptionsSchema } from "../src/custom-adapter.js";
import { SecretIntegrityError } from "../src/errors.js";
import { SecretStore } from "../src/secret-store.js";
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
    await adapter.storeSecretValues(id, { pw: secret }, JSON.stringify({ pw: secret }), {});
    writeFileSync(join(directory, "corrupted", `${id}.json`), `{"pw":${secret}}`);
    const error = await Promise.resolve(adapter.getSecretValues(id, {})).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SecretIntegrityError);
    expect(error).toMatchObject({ code: "E_SECRET_INTEGRITY", secretId: id });
    const text = `${inspect(error, { depth: 10 })}\n${(error as Error).stack}`;
    for (const part of [secret.slice(0, 10), '"pw"', "Unexpected token", "not valid JSON"]) {
      expect(text).not.toContain(part);
    }
  });
});

describe("examples/directory-adapter.mjs, written to the earlier contract, through the facade", () => {
  // The example has no `capabilities` and takes no options: the facade recognises it and adapts it.
  const open = (prefix: string) =>
    SecretStore.create({
      provider: "custom",
      prefix,
      module: "./examples/directory-adapter.mjs",
      options: { directory },
    });

  it("stores, gets, updates, lists and deletes as before", async () => {
    const store = await open(`facade-${randomUUID().slice(0, 8)}`);
    const id = randomUUID();
    await store.storeSecretValues(id, { user: "admin", password: "one" });
    await expect(store.storeSecretValues(id, { other: "x" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    expect(await store.getSecretValues(id)).toEqual({ user: "admin", password: "one" });
    await store.updateSecretValues(id, { password: "two" });
    expect(await store.getSecretValues(id)).toEqual({ password: "two" });
    const listed: string[] = [];
    for await (const listedId of store.listSecretIds()) listed.push(listedId);
    expect(listed).toEqual([id]);
    await expect(store.deleteSecretValues(id, { expectedValues: { password: "one" } })).rejects.toMatchObject({
      code: "E_SECRET_CHANGED",
    });
    await store.deleteSecretValues(id, { expectedValues: { password: "two" } });
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    expect(store.maxValueBytes).toBe(65_536);
    await store.close();
  });

  it("ends a call with the caller's abort reason, though the example takes no signal", async () => {
    const store = await open(`abort-${randomUUID().slice(0, 8)}`);
    const id = randomUUID();
    const reason = new DOMException("the caller gave up", "AbortError");
    await expect(store.storeSecretValues(id, { a: "b" }, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    const controller = new AbortController();
    const pending = store.getSecretValues(id, { signal: controller.signal });
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await store.close();
  });
});
