import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { MemoryAdapter } from "../adapters/memory/index.js";
import { overrideAdapter, withBatchReads } from "../test-support/adapter-overrides.js";
import type { SecretsAdapter, SecretValues } from "./contract.js";
import { type CopyProgress, copySecrets, openPrimaryAndBackup } from "./copy-secrets.js";
import { ProviderUnavailableError } from "./errors.js";
import { createAdapterFromConfig, SecretStore } from "./secret-store.js";
import { markedSecretValue } from "./testing/index.js";

async function memoryStore(): Promise<SecretStore> {
  return SecretStore.create({ provider: "memory" });
}

/** A target that outlives the process (a copy that deletes its sources refuses a memory store): a local store in a fresh folder. */
async function durableStore(): Promise<SecretStore> {
  return SecretStore.create({
    provider: "local",
    path: join(mkdtempSync(join(tmpdir(), "omnisecret-copy-")), "target.db"),
  });
}

async function fill(store: SecretStore, count: number): Promise<Map<string, SecretValues>> {
  const written = new Map<string, SecretValues>();
  for (let index = 0; index < count; index += 1) {
    const id = randomUUID();
    const values = { index: String(index), password: markedSecretValue() };
    await store.storeSecretValues(id, values);
    written.set(id, values);
  }
  return written;
}

async function contents(store: SecretStore): Promise<Map<string, SecretValues>> {
  const result = new Map<string, SecretValues>();
  for await (const id of store.listSecretIds()) result.set(id, await store.getSecretValues(id));
  return result;
}

describe("copySecrets", () => {
  it("copies every secret, verified, and reports progress", async () => {
    const from = await memoryStore();
    const to = await memoryStore();
    const written = await fill(from, 25);
    const progress: CopyProgress[] = [];
    const summary = await copySecrets(from, to, { concurrency: 4, onProgress: (p) => progress.push(p) });
    expect(summary).toMatchObject({
      total: 25,
      alreadyPresent: 0,
      skipped: [],
      failed: [],
      deleted: 0,
      aborted: false,
    });
    expect(summary.copied).toHaveLength(25);
    expect(await contents(to)).toEqual(written);
    expect(await contents(from)).toEqual(written);
    expect(progress[0]).toMatchObject({ total: 25, done: 0 });
    expect(progress.at(-1)).toMatchObject({ total: 25, done: 25, copied: 25 });
    expect(inspect(summary, { depth: 10 })).not.toMatch(/s3cr3t-/);
  });

  it("dry run changes nothing and says what a run would do", async () => {
    const from = await memoryStore();
    const to = await durableStore();
    const written = await fill(from, 5);
    const [conflicting] = written.keys();
    await to.storeSecretValues(conflicting as string, { other: "values" });
    const summary = await copySecrets(from, to, { dryRun: true, deleteSource: true });
    expect(summary.dryRun).toBe(true);
    expect(summary.copied).toHaveLength(4);
    expect(summary.failed).toEqual([expect.objectContaining({ id: conflicting, code: "E_SECRET_EXISTS" })]);
    expect(await contents(from)).toEqual(written);
    expect([...(await contents(to)).keys()]).toEqual([conflicting]);
  });

  it("counts identical target secrets as copied, leaves different ones alone unless replace", async () => {
    const from = await memoryStore();
    const to = await durableStore();
    const written = await fill(from, 3);
    const [same, different] = [...written.keys()] as [string, string];
    await to.storeSecretValues(same, written.get(same) as SecretValues);
    await to.storeSecretValues(different, { theirs: "kept" });
    const first = await copySecrets(from, to, { deleteSource: true });
    expect([...first.copied].sort()).toEqual([...written.keys()].filter((id) => id !== different).sort());
    expect(first.alreadyPresent).toBe(1);
    expect(first.failed).toEqual([expect.objectContaining({ id: different, code: "E_SECRET_EXISTS" })]);
    expect(await to.getSecretValues(different)).toEqual({ theirs: "kept" });
    // The conflicting source is not deleted: nothing is lost.
    expect([...(await contents(from)).keys()]).toEqual([different]);
    const replaced = await copySecrets(from, to, { overwrite: "replace", deleteSource: true });
    expect(replaced).toMatchObject({ copied: [different], failed: [], deleted: 1 });
    expect(await to.getSecretValues(different)).toEqual(written.get(different));
  });

  it("is idempotent: an aborted run, run again, ends with every secret moved once", async () => {
    const from = await memoryStore();
    const to = await durableStore();
    const written = await fill(from, 40);
    const controller = new AbortController();
    const first = await copySecrets(from, to, {
      concurrency: 3,
      deleteSource: true,
      signal: controller.signal,
      onProgress: ({ done }) => {
        if (done === 20) controller.abort();
      },
    });
    expect(first.aborted).toBe(true);
    expect(first.copied.length).toBeGreaterThanOrEqual(20);
    expect(first.copied.length).toBeLessThan(40);
    const second = await copySecrets(from, to, { concurrency: 3, deleteSource: true });
    expect(second).toMatchObject({ failed: [], aborted: false });
    expect(first.copied.length + second.copied.length).toBe(40);
    expect(await contents(to)).toEqual(written);
    expect((await contents(from)).size).toBe(0);
    // A third run has nothing to do.
    expect(await copySecrets(from, to, { deleteSource: true })).toMatchObject({ total: 0, copied: [] });
  });

  it("reports a failing target per id with its code, and keeps the source", async () => {
    const from = await memoryStore();
    const { adapter } = await createAdapterFromConfig({ provider: "memory" });
    let failing = true;
    const flaky: SecretsAdapter = {
      ...adapter,
      provider: "memory",
      storeSecretValues: async (id, values, serialized, options) => {
        if (failing) throw new ProviderUnavailableError(id);
        return adapter.storeSecretValues(id, values, serialized, options);
      },
      getSecretValues: (id, options) => adapter.getSecretValues(id, options),
      updateSecretValues: (id, values, serialized, options) =>
        adapter.updateSecretValues(id, values, serialized, options),
      deleteSecretValues: (id, options) => adapter.deleteSecretValues(id, options),
    };
    const to = SecretStore.fromAdapter(flaky);
    const written = await fill(from, 4);
    const summary = await copySecrets(from, to, { deleteSource: true });
    expect(summary.failed.map((failure) => failure.code)).toEqual(Array(4).fill("E_PROVIDER_UNAVAILABLE"));
    expect(await contents(from)).toEqual(written);
    failing = false;
    expect((await copySecrets(from, to, { deleteSource: true })).copied).toHaveLength(4);
  });

  it("opens a config's primary and backup as two stores; refuses a config without a backup", async () => {
    const { primary, backup } = await openPrimaryAndBackup({ provider: "memory", backup: { provider: "memory" } });
    const id = randomUUID();
    await primary.storeSecretValues(id, { a: "b" });
    expect((await copySecrets(primary, backup)).copied).toEqual([id]);
    await expect(openPrimaryAndBackup({ provider: "memory" })).rejects.toMatchObject({
      code: "E_CONFIG",
      field: "backup",
    });
  });
});

describe("getManySecretValues", () => {
  it("returns a result per id; onMissing throw or skip", async () => {
    const store = await memoryStore();
    const [a, b] = [randomUUID(), randomUUID()];
    await store.storeSecretValues(a, { k: "a" });
    await store.storeSecretValues(b, { k: "b" });
    const missing = randomUUID();
    const both = await store.getManySecretValues([b, a.toUpperCase(), a]);
    expect([...both.entries()]).toEqual([
      [b, { values: { k: "b" } }],
      [a, { values: { k: "a" } }],
    ]);
    await expect(store.getManySecretValues([a, missing])).rejects.toMatchObject({
      code: "E_SECRET_NOT_FOUND",
      secretId: missing,
    });
    const skipped = await store.getManySecretValues([a, missing], { onMissing: "skip" });
    expect([...skipped.keys()]).toEqual([a]);
    await expect(store.getManySecretValues([a, "not-an-id"])).rejects.toMatchObject({ code: "E_INVALID_SECRET_ID" });
  });

  it("keeps at most `concurrency` reads at the provider, and gives other failures per id", async () => {
    const { adapter } = await createAdapterFromConfig({ provider: "memory" });
    let inFlight = 0;
    let most = 0;
    const broken = randomUUID();
    const counting = overrideAdapter(adapter, (inner) => ({
      getSecretValues: async (id, options) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight -= 1;
        if (id === broken) throw new ProviderUnavailableError(id);
        return inner.getSecretValues(id, options);
      },
    }));
    const store = SecretStore.fromAdapter(counting, { provider: "memory" });
    const ids = Array.from({ length: 30 }, () => randomUUID());
    for (const id of [...ids, broken]) await store.storeSecretValues(id, { id });
    const results = await store.getManySecretValues([...ids, broken], { concurrency: 3 });
    expect(most).toBe(3);
    expect(results.get(broken)).toMatchObject({ error: { code: "E_PROVIDER_UNAVAILABLE" } });
    expect(ids.every((id) => (results.get(id) as { values: SecretValues }).values.id === id)).toBe(true);
  });

  it("uses an adapter's batch call in batches of maxBatchSize, honouring the read cache", async () => {
    const { adapter } = await createAdapterFromConfig({ provider: "memory" });
    const reads = withBatchReads(adapter, 4);
    const { batches } = reads;
    const store = SecretStore.fromAdapter(reads.adapter, { provider: "memory", cache: { ttlMs: 60_000 } });
    const ids = Array.from({ length: 10 }, () => randomUUID());
    for (const id of ids) await store.storeSecretValues(id, { id });
    expect(await store.getSecretValues(ids[0] as string)).toEqual({ id: ids[0] }); // cached now
    const missing = randomUUID();
    const results = await store.getManySecretValues([...ids, missing], { onMissing: "skip" });
    expect(results.size).toBe(10);
    expect(batches.flat().sort()).toEqual([...ids.slice(1), missing].sort());
    expect(batches.every((batch) => batch.length <= 4)).toBe(true);
    expect(reads.singleGets).toBe(1);
    // Everything read in the batches is cached now.
    await store.getManySecretValues(ids);
    expect(batches.flat()).toHaveLength(10);
    // A write drops the entry: the next batch reads it again.
    await store.updateSecretValues(ids[1] as string, { id: "changed" });
    expect((await store.getManySecretValues([ids[1] as string])).get(ids[1] as string)).toEqual({
      values: { id: "changed" },
    });
  });
});

/** A memory adapter whose calls each wait 0-2 ms first, so concurrent work interleaves with them. */
function slowMemoryAdapter(adapter: SecretsAdapter, options: { conditionalDelete: boolean }): SecretsAdapter {
  const pause = () => new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 3)));
  return {
    provider: "memory",
    capabilities: { conditionalDelete: options.conditionalDelete, list: true },
    storeSecretValues: async (id, values, serialized, call) => {
      await pause();
      return adapter.storeSecretValues(id, values, serialized, call);
    },
    getSecretValues: async (id, call) => {
      await pause();
      return adapter.getSecretValues(id, call);
    },
    updateSecretValues: async (id, values, serialized, call) => {
      await pause();
      return adapter.updateSecretValues(id, values, serialized, call);
    },
    deleteSecretValues: async (id, call) => {
      await pause();
      return adapter.deleteSecretValues(id, call);
    },
    deleteSecretValuesIfUnchanged: async (id, expected, call) => {
      await pause();
      return adapter.deleteSecretValuesIfUnchanged?.(id, expected, call);
    },
    listSecretIds: (call) => adapter.listSecretIds?.(call) ?? (async function* () {})(),
  };
}

/** A memory target a few ms slow per call (given as an adapter, so taken to be durable). */
function slowTarget(): SecretStore {
  return SecretStore.fromAdapter(
    slowMemoryAdapter(new MemoryAdapter({ maxValueBytes: 65_536 }), { conditionalDelete: true }),
  );
}

describe("copySecrets with deleteSource while the application keeps updating (issue 20, item 5)", () => {
  /**
   * 100 secrets moved with deleteSource while an application updates random ones; afterwards every
   * id's last acknowledged update must be readable on the source (left in place) or the target.
   */
  async function lostUpdates(from: SecretStore, to: SecretStore): Promise<{ lost: number; changed: number }> {
    const ids: string[] = [];
    for (let index = 0; index < 100; index += 1) {
      const id = randomUUID();
      await from.storeSecretValues(id, { v: "0" });
      ids.push(id);
    }
    const acknowledged = new Map<string, string>(ids.map((id) => [id, "0"]));
    let copying = true;
    let counter = 0;
    // Four writers at once, so that some updates land between a copy's read and its delete.
    const writer = async () => {
      while (copying) {
        const id = ids[Math.floor(Math.random() * ids.length)] as string;
        counter += 1;
        const value = String(counter);
        try {
          await from.updateSecretValues(id, { v: value });
          acknowledged.set(id, value);
        } catch (error) {
          if ((error as { code?: string }).code !== "E_SECRET_NOT_FOUND") throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 2)));
      }
    };
    const application = Promise.all([writer(), writer(), writer(), writer()]);
    const summary = await copySecrets(from, to, { concurrency: 8, deleteSource: true });
    copying = false;
    await application;
    let lost = 0;
    for (const [id, value] of acknowledged) {
      const read = async (store: SecretStore) => (await store.getSecretValues(id).catch(() => undefined))?.v;
      if ((await read(from)) !== value && (await read(to)) !== value) lost += 1;
    }
    return { lost, changed: summary.failed.filter((failure) => failure.code === "E_SECRET_CHANGED").length };
  }

  it("memory source (atomic conditional delete): no acknowledged update is lost", async () => {
    const from = SecretStore.fromAdapter(
      slowMemoryAdapter(new MemoryAdapter({ maxValueBytes: 65_536 }), { conditionalDelete: true }),
    );
    const result = await lostUpdates(from, slowTarget());
    expect(result.lost).toBe(0);
    expect(result.changed).toBeGreaterThan(0);
  });

  it("local source (one SQLite transaction): no acknowledged update is lost", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "omnisecret-copy-")), "source.db");
    const from = await SecretStore.create({ provider: "local", path });
    const result = await lostUpdates(from, slowTarget());
    expect(result.lost).toBe(0);
    expect(result.changed).toBeGreaterThan(0);
    await from.close();
  });

  it("an adapter without a conditional delete: an update between the copy and the delete keeps the source", async () => {
    const source = new MemoryAdapter({ maxValueBytes: 65_536 });
    const from = SecretStore.fromAdapter(slowMemoryAdapter(source, { conditionalDelete: false }));
    const id = randomUUID();
    const [copied, newer] = [markedSecretValue(), markedSecretValue()];
    await from.storeSecretValues(id, { v: copied });
    // The target's store is where the application's update lands: after the copy read the source.
    const targetAdapter = new MemoryAdapter({ maxValueBytes: 65_536 });
    const to = SecretStore.fromAdapter({
      ...slowMemoryAdapter(targetAdapter, { conditionalDelete: true }),
      storeSecretValues: async (secretId: string, values: SecretValues, serialized: string) => {
        await from.updateSecretValues(secretId, { v: newer });
        return targetAdapter.storeSecretValues(secretId, values, serialized);
      },
    });
    const summary = await copySecrets(from, to, { deleteSource: true });
    expect(summary.failed).toEqual([expect.objectContaining({ id, code: "E_SECRET_CHANGED" })]);
    expect(summary.deleted).toBe(0);
    expect(await from.getSecretValues(id)).toEqual({ v: newer });
    // The report names the id and the code, never either value.
    expect(inspect(summary, { depth: 10 })).not.toMatch(/s3cr3t-/);
  });
});

describe("deleteSecretValues with expectedValues", () => {
  it("deletes only a secret that holds exactly those values; else E_SECRET_CHANGED and it stays", async () => {
    const store = await memoryStore();
    const id = randomUUID();
    await store.storeSecretValues(id, { a: "1", b: "2" });
    await expect(store.deleteSecretValues(id, { expectedValues: { a: "1" } })).rejects.toMatchObject({
      code: "E_SECRET_CHANGED",
      secretId: id,
    });
    expect(await store.getSecretValues(id)).toEqual({ a: "1", b: "2" });
    await store.deleteSecretValues(id, { expectedValues: { b: "2", a: "1" } });
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.deleteSecretValues(id, { expectedValues: { a: "1" } })).rejects.toMatchObject({
      code: "E_SECRET_NOT_FOUND",
    });
    await expect(store.deleteSecretValues(id, { expectedValues: { a: 1 } as never })).rejects.toMatchObject({
      code: "E_INVALID_SECRET_VALUES",
    });
  });
});
