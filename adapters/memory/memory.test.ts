import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SecretStore } from "../../src/secret-store.js";
import { testSecretsAdapter, testSecretsAdapterModel } from "../../src/testing/index.js";
import { MemoryAdapter } from "./index.js";

testSecretsAdapter("memory", {
  createAdapter: () => new MemoryAdapter({ maxValueBytes: 65_536 }),
  versions: { keepVersions: 1 },
  sharedStorage: false,
});
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

// The reference the version suites run on: the Done-when scenario needs keepVersions 2; 3 keeps A readable.
for (const keepVersions of [2, 3]) {
  testSecretsAdapter(`memory, keepVersions ${keepVersions}`, {
    createAdapter: () => new MemoryAdapter({ maxValueBytes: 65_536, keepVersions }),
    versions: { keepVersions },
    sharedStorage: false,
  });
  testSecretsAdapter(`memory, keepVersions ${keepVersions}`, {
    createAdapter: () => new MemoryAdapter({ maxValueBytes: 65_536, keepVersions }),
    cache: { ttlMs: 60_000 },
    sharedStorage: false,
    versions: { keepVersions },
  });
}
testSecretsAdapterModel("memory, keepVersions 1", {
  createAdapter: () => new MemoryAdapter({ maxValueBytes: 65_536 }),
  versions: { keepVersions: 1 },
});
testSecretsAdapterModel("memory, keepVersions 2", {
  createAdapter: () => new MemoryAdapter({ maxValueBytes: 65_536, keepVersions: 2 }),
  versions: { keepVersions: 2 },
});
testSecretsAdapterModel("memory, keepVersions 3", {
  createAdapter: () => new MemoryAdapter({ maxValueBytes: 65_536, keepVersions: 3 }),
  cache: { ttlMs: 60_000 },
  versions: { keepVersions: 3 },
});

describe("memory provider", () => {
  it("is selected by config and honours a configured limit", async () => {
    const store = await SecretStore.create({ provider: "memory", maxValueBytes: 100 });
    expect(store.provider).toBe("memory");
    expect(store.maxValueBytes).toBe(100);
    await store.close();
  });

  it("takes keepVersions from the config and the environment (default 1: an update leaves no previous)", async () => {
    const id = randomUUID();
    const byDefault = await SecretStore.create({ provider: "memory" });
    await byDefault.storeSecretValues(id, { v: "A" });
    await byDefault.updateSecretValues(id, { v: "B" });
    await expect(byDefault.getSecretValues(id, { version: "previous" })).rejects.toMatchObject({
      code: "E_SECRET_NOT_FOUND",
      message: expect.stringContaining("keepVersions is 1"),
    });
    expect(await byDefault.listSecretVersions(id)).toHaveLength(1);
    for (const store of [
      await SecretStore.create({ provider: "memory", keepVersions: 2 }),
      await SecretStore.fromEnv({ OMNISECRET_PROVIDER: "memory", OMNISECRET_MEMORY_KEEP_VERSIONS: "2" }),
    ]) {
      await store.storeSecretValues(id, { v: "A" });
      await store.updateSecretValues(id, { v: "B" });
      expect(await store.getSecretValues(id, { version: "previous" })).toEqual({ v: "A" });
      await store.close();
    }
    await expect(SecretStore.create({ provider: "memory", keepVersions: 0 })).rejects.toMatchObject({
      code: "E_CONFIG",
      field: "keepVersions",
    });
    await byDefault.close();
  });

  it("says why a version is gone: pruned, of a deleted secret, or never made", async () => {
    const store = SecretStore.fromAdapter(new MemoryAdapter({ maxValueBytes: 65_536, keepVersions: 2 }));
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "A" });
    const [first] = await store.listSecretVersions(id);
    const tokenA = first?.token as string;
    await expect(store.getSecretValues(id, { version: "previous" })).rejects.toThrow(/no other version/);
    await store.updateSecretValues(id, { v: "B" });
    await store.updateSecretValues(id, { v: "C" });
    await expect(store.getSecretValues(id, { version: tokenA })).rejects.toThrow(/pruned \(keepVersions is 2\)/);
    await expect(store.getSecretValues(id, { version: tokenA.replace(/\.1$/, ".9") })).rejects.toThrow(
      /has no version/,
    );
    await store.deleteSecretValues(id);
    await store.storeSecretValues(id, { v: "D" });
    await expect(store.getSecretValues(id, { version: tokenA })).rejects.toThrow(/deleted/);
  });
});
