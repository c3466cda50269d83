import { describe, expect, it } from "vitest";
import { SecretStore } from "../../src/secret-store.js";
import { testSecretsAdapter, testSecretsAdapterModel } from "../../src/testing/index.js";
import { MemoryAdapter } from "./index.js";

testSecretsAdapter("memory", { createAdapter: () => new MemoryAdapter({ maxValueBytes: 65_536 }) });
testSecretsAdapter("memory", {
  createAdapter: () => new MemoryAdapter({ maxValueBytes: 65_536 }),
  cache: { ttlMs: 60_000 },
  // Each MemoryAdapter holds its own secrets: two of them are not two processes on one store.
  sharedStorage: false,
});
testSecretsAdapterModel("memory", { createAdapter: () => new MemoryAdapter({ maxValueBytes: 65_536 }) });
testSecretsAdapterModel("memory", {
  createAdapter: () => new MemoryAdapter({ maxValueBytes: 65_536 }),
  cache: { ttlMs: 60_000 },
});

describe("memory provider", () => {
  it("is selected by config and honours a configured limit", async () => {
    const store = await SecretStore.create({ provider: "memory", maxValueBytes: 100 });
    expect(store.provider).toBe("memory");
    expect(store.maxValueBytes).toBe(100);
    await store.close();
  });
});
