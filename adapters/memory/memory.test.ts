import { describe, expect, it } from "vitest";
import { SecretStore } from "../../src/secret-store.js";
import { testSecretsAdapter } from "../../src/testing/index.js";
import { MemoryAdapter } from "./index.js";

testSecretsAdapter("memory", { createAdapter: () => new MemoryAdapter({ maxValueBytes: 65_536 }) });

describe("memory provider", () => {
  it("is selected by config and honours a configured limit", async () => {
    const store = await SecretStore.create({ provider: "memory", maxValueBytes: 100 });
    expect(store.provider).toBe("memory");
    expect(store.maxValueBytes).toBe(100);
    await store.close();
  });
});
