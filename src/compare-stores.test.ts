import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { overrideAdapter, withBatchReads } from "../test-support/adapter-overrides.js";
import { type CompareProgress, compareStores } from "./compare-stores.js";
import { expectComparisonThroughRaces, expectNoValueIn, seeded } from "./compare-stores.test-helper.js";
import { ProviderUnavailableError } from "./errors.js";
import { createAdapterFromConfig, SecretStore } from "./secret-store.js";
import { markedSecretValue } from "./testing/index.js";

const directory = mkdtempSync(join(tmpdir(), "omnisecret-compare-"));
const localStore = () => SecretStore.create({ provider: "local", path: join(directory, `${randomUUID()}.db`) });
const memoryStore = () => SecretStore.create({ provider: "memory" });

describe("compareStores", () => {
  for (const [name, open] of [
    ["memory", memoryStore],
    ["local", localStore],
  ] as const) {
    it(`reports exactly the seeded differences between two ${name} stores, and no value`, async () => {
      const from = await open();
      const to = await open();
      const { ids, values } = await seeded(from, to);
      const progress: CompareProgress[] = [];
      const summary = await compareStores(from, to, { onProgress: (p) => progress.push(p) });
      const byId = new Map(summary.entries.map((entry) => [entry.id, entry]));
      expect(byId.get(ids.same)).toEqual({ id: ids.same, status: "same" });
      expect(byId.get(ids.unicode)).toEqual({ id: ids.unicode, status: "same" });
      expect(byId.get(ids.changed)).toEqual({
        id: ids.changed,
        status: "differs",
        changedKeys: ["password"],
        keysOnlyInFrom: [],
        keysOnlyInTo: [],
      });
      expect(byId.get(ids.keyAdded)).toMatchObject({ status: "differs", changedKeys: [], keysOnlyInTo: ["extra"] });
      expect(byId.get(ids.keyRemoved)).toMatchObject({ status: "differs", changedKeys: [], keysOnlyInFrom: ["gone"] });
      expect(byId.get(ids.normalization)).toMatchObject({ status: "differs", changedKeys: ["name"] });
      expect(byId.get(ids.onlyInFrom)).toEqual({ id: ids.onlyInFrom, status: "only-in-from" });
      expect(byId.get(ids.onlyInTo)).toEqual({ id: ids.onlyInTo, status: "only-in-to" });
      expect(summary).toMatchObject({
        same: 2,
        differs: 4,
        onlyInFrom: 1,
        onlyInTo: 1,
        errors: 0,
        identical: false,
        aborted: false,
      });
      expect(summary.entries.map((entry) => entry.id)).toEqual([...Object.values(ids)].sort());
      expect(progress[0]).toMatchObject({ total: 8, done: 2 }); // the one-sided ids are decided by the lists
      expect(progress.at(-1)).toEqual({ total: 8, done: 8, same: 2, different: 6, failed: 0 });
      const shown = JSON.stringify(summary) + inspect(summary, { depth: 10 }) + JSON.stringify(progress);
      expectNoValueIn(shown, values);
      await Promise.all([from.close(), to.close()]);
    });
  }

  it("finds two stores holding the same secrets identical, and a store identical to itself", async () => {
    const from = await localStore();
    const to = await memoryStore();
    for (let index = 0; index < 150; index += 1) {
      const id = randomUUID();
      await from.storeSecretValues(id, { index: String(index), value: markedSecretValue() });
      await to.storeSecretValues(id, await from.getSecretValues(id));
    }
    // 150 ids in chunks of 64 (concurrency 1): progress after each chunk.
    const progress: CompareProgress[] = [];
    const summary = await compareStores(from, to, { concurrency: 1, onProgress: (p) => progress.push(p) });
    expect(summary).toMatchObject({ same: 150, identical: true, aborted: false });
    expect(progress.map((p) => p.done)).toEqual([0, 64, 128, 150]);
    expect(await compareStores(from, from)).toMatchObject({ same: 150, identical: true });
    expect(await compareStores(await memoryStore(), await memoryStore())).toMatchObject({
      entries: [],
      identical: true,
    });
  });

  it("settles secrets deleted, changed or created by another client between the lists and the reads (local files)", async () => {
    const side = async () => {
      const config = { provider: "local", path: join(directory, `${randomUUID()}.db`) };
      // Two adapters on one file, each with its own connection, as two processes would have.
      const { adapter } = await createAdapterFromConfig(config);
      return { adapter, other: await SecretStore.create(config) };
    };
    await expectComparisonThroughRaces(await side(), await side());
  });

  it("gives a failed read its own `error` entry and compares the rest", async () => {
    const { adapter } = await createAdapterFromConfig({ provider: "memory" });
    const broken = randomUUID();
    const failing = overrideAdapter(adapter, (inner) => ({
      getSecretValues: async (id, options) => {
        if (id === broken) throw new ProviderUnavailableError(id);
        return inner.getSecretValues(id, options);
      },
    }));
    const to = SecretStore.fromAdapter(failing, { provider: "memory" });
    const from = await memoryStore();
    const fine = randomUUID();
    for (const id of [broken, fine]) {
      await from.storeSecretValues(id, { id });
      await to.storeSecretValues(id, { id });
    }
    const summary = await compareStores(from, to);
    expect(summary.entries).toEqual(
      [
        { id: fine, status: "same" },
        {
          id: broken,
          status: "error",
          side: "to",
          code: "E_PROVIDER_UNAVAILABLE",
          message: expect.stringContaining(broken),
        },
      ].sort((a, b) => (a.id < b.id ? -1 : 1)),
    );
    expect(summary).toMatchObject({ errors: 1, identical: false });
  });

  it("reads only the ids both lists hold, through the batch call where there is one", async () => {
    const { adapter } = await createAdapterFromConfig({ provider: "memory" });
    const reads = withBatchReads(adapter, 20);
    const { batches } = reads;
    // With a read cache that already holds everything: a comparison still asks the provider.
    const from = SecretStore.fromAdapter(reads.adapter, { provider: "memory", cache: { ttlMs: 60_000 } });
    const to = await memoryStore();
    const ids = Array.from({ length: 50 }, () => randomUUID());
    for (const id of ids) {
      await from.storeSecretValues(id, { id });
      await to.storeSecretValues(id, { id });
      await from.getSecretValues(id);
    }
    await from.storeSecretValues(randomUUID(), { only: "here" });
    batches.length = 0;
    reads.singleGets = 0;
    expect(await compareStores(from, to)).toMatchObject({ same: 50, onlyInFrom: 1 });
    expect(reads.singleGets).toBe(0);
    expect(batches).toHaveLength(3);
    expect(batches.flat().sort()).toEqual([...ids].sort());
  });

  it("compares only the ids given, without listing; an id neither side holds is left out", async () => {
    const from = await memoryStore();
    const to = await memoryStore();
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    await from.storeSecretValues(a, { k: "1" });
    await to.storeSecretValues(a, { k: "1" });
    await from.storeSecretValues(b, { k: "1" });
    await to.storeSecretValues(randomUUID(), { unrelated: "x" });
    const summary = await compareStores(from, to, { ids: [a, b, c] });
    expect(summary.entries).toEqual(
      [
        { id: a, status: "same" },
        { id: b, status: "only-in-from" },
      ].sort((x, y) => (x.id < y.id ? -1 : 1)),
    );
  });

  it("stops on abort with what was decided, and refuses a bad concurrency", async () => {
    const from = await memoryStore();
    const to = await memoryStore();
    for (let index = 0; index < 200; index += 1) {
      const id = randomUUID();
      await from.storeSecretValues(id, { index: String(index) });
      await to.storeSecretValues(id, { index: String(index) });
    }
    const controller = new AbortController();
    const summary = await compareStores(from, to, {
      concurrency: 1,
      signal: controller.signal,
      onProgress: (progress) => {
        if (progress.done >= 64) controller.abort();
      },
    });
    expect(summary).toMatchObject({ same: 64, aborted: true, identical: false });
    await expect(compareStores(from, to, { concurrency: 0 })).rejects.toThrow(RangeError);
  });
});
