import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { MemoryAdapter } from "../adapters/memory/index.js";
import { configFromSources, resolveConfig } from "./config.js";
import type { LegacySecretsAdapter, SecretsAdapter, SecretValues } from "./contract.js";
import { ProviderUnavailableError, SecretNotFoundError } from "./errors.js";
import { ReadCache } from "./read-cache.js";
import { SecretStore } from "./secret-store.js";

const root = join(import.meta.dirname, "..");

/** A memory adapter that counts the gets that reach it, and can hold a get back until released. */
function countingAdapter() {
  const inner = new MemoryAdapter({ maxValueBytes: 65_536 });
  const counts = { get: 0 };
  let gate: Promise<void> | undefined;
  const adapter: SecretsAdapter = {
    capabilities: inner.capabilities,
    storeSecretValues: (id, values, serialized, options) => inner.storeSecretValues(id, values, serialized, options),
    updateSecretValues: (id, values, serialized, options) => inner.updateSecretValues(id, values, serialized, options),
    deleteSecretValues: (id, options) => inner.deleteSecretValues(id, options),
    async getSecretValues(id, options) {
      counts.get += 1;
      // Read first, then wait: the answer is what the provider held when the request arrived.
      const read = inner.getSecretValues(id, options).then(
        (answer) => ({ answer }),
        (error: unknown) => ({ error }),
      );
      if (gate) await gate;
      const result = await read;
      if ("error" in result) throw result.error;
      return result.answer;
    },
  };
  return {
    adapter,
    counts,
    /** Holds every get back after it read, until the returned function is called. */
    hold(): () => void {
      let release = () => {};
      gate = new Promise<void>((resolve) => {
        release = () => {
          gate = undefined;
          resolve();
        };
      });
      return release;
    },
  };
}

describe("read cache", () => {
  it("serves gets within the TTL from memory, and reads again after it", async () => {
    const { adapter, counts } = countingAdapter();
    const store = SecretStore.fromAdapter(adapter, { cache: { ttlMs: 200 } });
    const id = randomUUID();
    await store.storeSecretValues(id, { a: "1" });
    for (let i = 0; i < 5; i += 1) expect(await store.getSecretValues(id)).toEqual({ a: "1" });
    expect(counts.get).toBe(1);
    await sleep(250);
    expect(await store.getSecretValues(id)).toEqual({ a: "1" });
    expect(counts.get).toBe(2);
  });

  it("expires entries on the clock it is given", () => {
    let now = 1_000;
    const cache = new ReadCache({ ttlMs: 100 }, { now: () => now });
    cache.completeRead("a", cache.beginRead("a"), { v: "1" });
    now += 99;
    expect(cache.lookup("a")).toEqual({ values: { v: "1" } });
    now += 2;
    expect(cache.lookup("a")).toBeUndefined();
  });

  it("drops an entry at once on this store's own update and delete", async () => {
    const { adapter, counts } = countingAdapter();
    const store = SecretStore.fromAdapter(adapter, { cache: { ttlMs: 60_000 } });
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    expect(await store.getSecretValues(id)).toEqual({ v: "1" });
    await store.updateSecretValues(id, { v: "2" });
    expect(await store.getSecretValues(id)).toEqual({ v: "2" });
    await store.deleteSecretValues(id);
    await expect(store.getSecretValues(id)).rejects.toBeInstanceOf(SecretNotFoundError);
    expect(counts.get).toBe(3);
  });

  it("does not cache not-found unless asked, and a store replaces a cached not-found", async () => {
    const plain = countingAdapter();
    const store = SecretStore.fromAdapter(plain.adapter, { cache: { ttlMs: 60_000 } });
    const id = randomUUID();
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    expect(plain.counts.get).toBe(2);

    const negative = countingAdapter();
    const cachingMisses = SecretStore.fromAdapter(negative.adapter, {
      provider: "spy",
      cache: { ttlMs: 60_000, cacheNotFound: true },
    });
    await expect(cachingMisses.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    const error = await cachingMisses.getSecretValues(id).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_SECRET_NOT_FOUND", secretId: id, provider: "spy" });
    expect(negative.counts.get).toBe(1);
    await cachingMisses.storeSecretValues(id, { now: "here" });
    expect(await cachingMisses.getSecretValues(id)).toEqual({ now: "here" });
    expect(negative.counts.get).toBe(2);
  });

  it("never caches other failures", async () => {
    let calls = 0;
    const adapter: LegacySecretsAdapter = {
      maxValueBytes: 100,
      storeSecretValues: async () => undefined,
      updateSecretValues: async () => undefined,
      deleteSecretValues: async () => undefined,
      async getSecretValues(id) {
        calls += 1;
        throw new ProviderUnavailableError(id);
      },
    };
    const store = SecretStore.fromAdapter(adapter, { cache: { ttlMs: 60_000, cacheNotFound: true } });
    const id = randomUUID();
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    expect(calls).toBe(2);
  });

  it("hands out copies: nothing a caller does changes the cache", async () => {
    const { adapter } = countingAdapter();
    const store = SecretStore.fromAdapter(adapter, { cache: { ttlMs: 60_000 } });
    const id = randomUUID();
    const input: SecretValues = { a: "1" };
    await store.storeSecretValues(id, input);
    const first = await store.getSecretValues(id);
    first.a = "changed";
    first.extra = "added";
    delete (first as Partial<SecretValues>).a;
    input.a = "changed too";
    const second = await store.getSecretValues(id);
    expect(second).toEqual({ a: "1" });
    expect(second).not.toBe(await store.getSecretValues(id));
    expect(Object.isFrozen(second)).toBe(false);
  });

  it("evicts the least recently used entries beyond maxEntries", async () => {
    const { adapter, counts } = countingAdapter();
    const store = SecretStore.fromAdapter(adapter, { cache: { ttlMs: 60_000, maxEntries: 2 } });
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()] as const;
    for (const id of [a, b, c]) await store.storeSecretValues(id, { id });
    await store.getSecretValues(a);
    await store.getSecretValues(b);
    await store.getSecretValues(a); // a is now more recent than b
    await store.getSecretValues(c); // evicts b
    expect(counts.get).toBe(3);
    await store.getSecretValues(a);
    await store.getSecretValues(c);
    expect(counts.get).toBe(3);
    await store.getSecretValues(b);
    expect(counts.get).toBe(4);
  });

  it("does not put back a value read before an update that ended while the get was in flight", async () => {
    const counting = countingAdapter();
    const store = SecretStore.fromAdapter(counting.adapter, { cache: { ttlMs: 60_000 } });
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "old" });

    const release = counting.hold();
    const slowGet = store.getSecretValues(id); // reads "old", then waits
    await store.updateSecretValues(id, { v: "new" });
    release();
    expect(await slowGet).toEqual({ v: "old" });
    expect(await store.getSecretValues(id)).toEqual({ v: "new" });

    // The same for a delete: the stale read must not resurrect the secret in the cache.
    const releaseAgain = counting.hold();
    const slowGetAgain = store.getSecretValues(id);
    await store.deleteSecretValues(id);
    releaseAgain();
    expect(await slowGetAgain).toEqual({ v: "new" });
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
  });

  it("drops the least recently used entry first, a hit or a new value making an entry the newest", () => {
    const cache = new ReadCache({ ttlMs: 60_000, maxEntries: 3 });
    const put = (id: string) => cache.completeRead(id, cache.beginRead(id), { v: id });
    // Looks each id up, in the order given: a hit makes it the newest.
    const cached = (ids: string[]) => ids.filter((id) => cache.lookup(id) !== undefined);
    for (const id of ["a", "b", "c"]) put(id);
    expect(cache.lookup("a")).toBeDefined(); // in order of use: b, c, a
    put("d"); // b goes: c, a, d
    expect(cached(["a", "b", "c", "d"])).toEqual(["a", "c", "d"]); // a, c, d
    put("c"); // read again: a, d, c
    cache.invalidate("d"); // a, c
    put("e"); // a, c, e
    put("f"); // a goes: c, e, f
    expect(cache.size).toBe(3);
    expect(cached(["a", "b", "c", "d", "e", "f"])).toEqual(["c", "e", "f"]);
  });

  it("caches the answer of a get that began after the write ended", () => {
    const cache = new ReadCache({ ttlMs: 60_000 });
    const stale = cache.beginRead("a");
    cache.invalidate("a");
    const fresh = cache.beginRead("a");
    cache.completeRead("a", fresh, { v: "new" });
    cache.completeRead("a", stale, { v: "old" });
    expect(cache.lookup("a")).toEqual({ values: { v: "new" } });
  });

  it("forgets everything on close", async () => {
    const { adapter } = countingAdapter();
    const store = SecretStore.fromAdapter(adapter, { cache: { ttlMs: 60_000 } });
    const id = randomUUID();
    await store.storeSecretValues(id, { a: "1" });
    await store.getSecretValues(id);
    await store.close();
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_CONFIG" });
  });

  it("rejects bad cache options given in code", () => {
    const adapter = countingAdapter().adapter;
    expect(() => SecretStore.fromAdapter(adapter, { cache: { ttlMs: 0 } })).toThrow(/cache\.ttlMs/);
    expect(() => SecretStore.fromAdapter(adapter, { cache: { ttlMs: 10, typo: 1 } as never })).toThrow(/typo/);
  });
});

describe("read cache configuration", () => {
  it("is accepted by every provider, with defaults", async () => {
    const configs: Record<string, unknown>[] = [
      { provider: "local" },
      { provider: "memory" },
      { provider: "aws", region: "us-east-1" },
      { provider: "vault", token: "t" },
      { provider: "gcp", projectId: "my-project" },
      { provider: "custom", module: "./x.mjs" },
    ];
    for (const config of configs) {
      expect((await resolveConfig({ ...config, cache: { ttlMs: 5_000 } })).config.cache).toEqual({
        ttlMs: 5_000,
        maxEntries: 1_000,
        cacheNotFound: false,
        staleIfErrorMs: 0,
      });
      expect((await resolveConfig(config)).config.cache).toBeUndefined();
    }
  });

  it("names the field of a bad cache option", async () => {
    for (const cache of [{}, { ttlMs: -1 }, { ttlMs: 1.5 }, { ttlMs: 10, maxEntries: 0 }, { ttlMs: 10, x: 1 }]) {
      await expect(resolveConfig({ provider: "memory", cache })).rejects.toThrow(/cache/);
    }
  });

  it("reads OMNISECRET_CACHE_* for any provider, over the config file", () => {
    const file = join(mkdtempSync(join(tmpdir(), "omnisecret-cache-config-")), "config.json");
    writeFileSync(file, JSON.stringify({ provider: "local", cache: { ttlMs: 1, maxEntries: 7 } }));
    const config = configFromSources({
      configFile: file,
      env: {
        OMNISECRET_PROVIDER: "memory",
        OMNISECRET_CACHE_TTL_MS: "30000",
        OMNISECRET_CACHE_NOT_FOUND: "yes",
      },
    });
    // The file was for another provider: its cache, a common field, is kept.
    expect(config).toEqual({ provider: "memory", cache: { ttlMs: 30_000, maxEntries: 7, cacheNotFound: true } });
    expect(() => configFromSources({ env: { OMNISECRET_CACHE_MAX_ENTRIES: "many" } })).toThrow(
      /OMNISECRET_CACHE_MAX_ENTRIES must be an integer/,
    );
  });
});

describe("read cache across processes", () => {
  it("shows another process's update to the local store only after the TTL", { timeout: 30_000 }, async () => {
    const path = join(mkdtempSync(join(tmpdir(), "omnisecret-cache-processes-")), "secrets.db");
    const ttlMs = 4_000;
    const store = await SecretStore.create({ provider: "local", path, cache: { ttlMs } });
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "old" });
    const cachedAt = performance.now();
    expect(await store.getSecretValues(id)).toEqual({ v: "old" });

    // Another process: the CLI of the built package, on the same database.
    const bin = join(root, "dist", "src", "cli", "main.js");
    await promisify(execFile)(process.execPath, [bin, "update", id, "v=new"], {
      env: { ...process.env, OMNISECRET_PROVIDER: "local", OMNISECRET_LOCAL_PATH: path },
    });
    const fresh = await SecretStore.create({ provider: "local", path });
    expect(await fresh.getSecretValues(id)).toEqual({ v: "new" });
    await fresh.close();

    expect(performance.now() - cachedAt).toBeLessThan(ttlMs);
    expect(await store.getSecretValues(id)).toEqual({ v: "old" });
    await sleep(Math.max(0, cachedAt + ttlMs + 50 - performance.now()));
    expect(await store.getSecretValues(id)).toEqual({ v: "new" });
    await store.close();
  });
});
