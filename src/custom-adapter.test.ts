import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { SecretStore } from "./secret-store.js";

const directory = mkdtempSync(join(tmpdir(), "omnisecret-custom-"));

function adapterModule(name: string, source: string): string {
  const path = join(directory, `${name}-${randomUUID()}.mjs`);
  writeFileSync(path, source);
  return path;
}

describe("custom adapter modules (issue 12, item 8)", () => {
  it("fails create with E_PROVIDER_UNAVAILABLE when the factory never settles", async () => {
    const module = adapterModule("hanging", "export default () => new Promise(() => {});\n");
    const started = performance.now();
    await expect(SecretStore.create({ provider: "custom", module, createTimeoutMs: 200 })).rejects.toMatchObject({
      code: "E_PROVIDER_UNAVAILABLE",
      message: expect.stringContaining("did not finish within 200 ms"),
    });
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it("accepts an adapter with just ZenML's four methods, at the default 65,536-byte limit", async () => {
    const module = adapterModule(
      "four-methods",
      `const secrets = new Map();
export default () => ({
  async storeSecretValues(id, values) { secrets.set(id, values); },
  async getSecretValues(id) { return secrets.get(id); },
  async updateSecretValues(id, values) { secrets.set(id, values); },
  async deleteSecretValues(id) { secrets.delete(id); },
});
`,
    );
    const store = await SecretStore.create({ provider: "custom", module });
    expect(store.maxValueBytes).toBe(65_536);
    const id = randomUUID();
    await store.storeSecretValues(id, { a: "b" });
    expect(await store.getSecretValues(id)).toEqual({ a: "b" });
    await store.close();
  });

  it("prints a custom store's config with its options redacted and its module shown, under the adapter's name", async () => {
    const module = adapterModule(
      "named",
      `export default () => ({ provider: "named", storeSecretValues() {}, getSecretValues() {}, updateSecretValues() {}, deleteSecretValues() {} });\n`,
    );
    const store = await SecretStore.create({ provider: "custom", module, options: { token: "s3cr3t-token" } });
    const printed = inspect(store);
    expect(printed).not.toContain("s3cr3t-token");
    expect(store.toJSON()).toMatchObject({ provider: "named", module, options: "[redacted]", createTimeoutMs: 30_000 });
    await store.close();
  });

  it("still refuses a maxValueBytes that is not a positive number", async () => {
    const module = adapterModule(
      "bad-limit",
      `export default () => ({ maxValueBytes: -1, storeSecretValues() {}, getSecretValues() {}, updateSecretValues() {}, deleteSecretValues() {} });\n`,
    );
    await expect(SecretStore.create({ provider: "custom", module })).rejects.toMatchObject({
      code: "E_CONFIG",
      message: expect.stringContaining("maxValueBytes"),
    });
  });

  it("takes a module written to today's contract (capabilities, options), handing it the caller's signal", async () => {
    const module = adapterModule(
      "current-contract",
      `const secrets = new Map();
export const signals = [];
export default () => ({
  capabilities: { maxValueBytes: 100, list: true },
  async storeSecretValues(id, values, serialized, options) { signals.push(options.signal); secrets.set(id, serialized); },
  async getSecretValues(id, options) {
    signals.push(options.signal);
    if (!secrets.has(id)) throw Object.assign(new Error("missing"), { code: "E_SECRET_NOT_FOUND" });
    return { values: JSON.parse(secrets.get(id)) };
  },
  async updateSecretValues(id, values, serialized) { secrets.set(id, serialized); },
  async deleteSecretValues(id) { secrets.delete(id); },
  async *listSecretIds() { yield* secrets.keys(); },
});
`,
    );
    const store = await SecretStore.create({ provider: "custom", module });
    expect(store.maxValueBytes).toBe(100);
    const id = randomUUID();
    const { signal } = new AbortController();
    await store.storeSecretValues(id, { a: "b" }, { signal });
    expect(await store.getSecretValues(id)).toEqual({ a: "b" });
    const listed: string[] = [];
    for await (const listedId of store.listSecretIds()) listed.push(listedId);
    expect(listed).toEqual([id]);
    const { signals } = (await import(module)) as { signals: unknown[] };
    expect(signals).toEqual([signal, undefined]);
    await store.close();
  });

  it("refuses a module whose capabilities promise a method it lacks", async () => {
    const module = adapterModule(
      "broken-promise",
      `export default () => ({ capabilities: { list: true, batchGet: true }, storeSecretValues() {}, getSecretValues() {}, updateSecretValues() {}, deleteSecretValues() {} });\n`,
    );
    await expect(SecretStore.create({ provider: "custom", module })).rejects.toMatchObject({
      code: "E_CONFIG",
      message: expect.stringContaining(
        "getManySecretValues (capabilities.batchGet is true), listSecretIds (capabilities.list is true)",
      ),
    });
  });
});
