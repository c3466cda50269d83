import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { MemoryAdapter } from "../adapters/memory/index.js";
import { BackupAdapter } from "./backup-adapter.js";
import { configFromSources, resolveConfig } from "./config.js";
import type { SecretsAdapter } from "./contract.js";
import {
  PermissionDeniedError,
  ProviderUnavailableError,
  SecretIntegrityError,
  SecretNotFoundError,
} from "./errors.js";
import { ReadCache } from "./read-cache.js";
import { SecretStore } from "./secret-store.js";

/** A memory adapter whose gets can be made to fail, counting the gets and batch reads that reach it. */
function flakyAdapter(options: { batch?: boolean } = {}) {
  const inner = new MemoryAdapter({ maxValueBytes: 65_536 });
  const state: { failWith: (() => Error) | undefined; gets: number } = { failWith: undefined, gets: 0 };
  const adapter: SecretsAdapter = {
    capabilities: { ...inner.capabilities, batchGet: options.batch === true, maxBatchSize: 10 },
    storeSecretValues: (id, values, serialized, call) => inner.storeSecretValues(id, values, serialized, call),
    updateSecretValues: (id, values, serialized, call) => inner.updateSecretValues(id, values, serialized, call),
    deleteSecretValues: (id, call) => inner.deleteSecretValues(id, call),
    async getSecretValues(id, call) {
      state.gets += 1;
      if (state.failWith) throw state.failWith();
      return inner.getSecretValues(id, call);
    },
    ...(options.batch
      ? {
          async getManySecretValues(ids: readonly string[]) {
            state.gets += ids.length;
            if (state.failWith) throw state.failWith();
            const answers = new Map<string, Awaited<ReturnType<SecretsAdapter["getSecretValues"]>> | Error>();
            for (const id of ids) answers.set(id, await inner.getSecretValues(id, {}).catch((error: Error) => error));
            return answers;
          },
        }
      : {}),
  };
  return { adapter, state, inner };
}

const unavailable = () => new ProviderUnavailableError(undefined);

/** A store whose cache entries expire at once (ttlMs 1) and are kept a minute for stale-if-error. */
function staleStore(options: { batch?: boolean; staleIfErrorMs?: number } = {}) {
  const flaky = flakyAdapter(options);
  const store = SecretStore.fromAdapter(flaky.adapter, {
    cache: { ttlMs: 1, staleIfErrorMs: options.staleIfErrorMs ?? 60_000 },
  });
  return { store, ...flaky };
}

describe("read cache: stale entries", () => {
  it("lookup serves within ttlMs only; lookupStale within ttlMs + staleIfErrorMs; then nothing", () => {
    let now = 1_000;
    const cache = new ReadCache({ ttlMs: 100, staleIfErrorMs: 500 }, { now: () => now });
    cache.completeRead("a", cache.beginRead("a"), { v: "1" });
    now += 100;
    expect(cache.lookup("a")).toEqual({ values: { v: "1" } });
    expect(cache.lookupStale("a")).toEqual({ v: "1" });
    now += 1;
    expect(cache.lookup("a")).toBeUndefined();
    expect(cache.lookupStale("a")).toEqual({ v: "1" });
    now += 499;
    expect(cache.lookupStale("a")).toEqual({ v: "1" });
    now += 1;
    expect(cache.lookupStale("a")).toBeUndefined();
  });

  it("keeps nothing stale without staleIfErrorMs, never a not-found, and nothing after a write of this process", () => {
    let now = 1_000; // not 0: lru-cache takes a start time of 0 for "no TTL"
    const plain = new ReadCache({ ttlMs: 100 }, { now: () => now });
    plain.completeRead("a", plain.beginRead("a"), { v: "1" });
    expect(plain.lookupStale("a")).toBeUndefined();
    now += 101;
    expect(plain.lookup("a")).toBeUndefined();

    const cache = new ReadCache({ ttlMs: 100, staleIfErrorMs: 500, cacheNotFound: true }, { now: () => now });
    cache.completeNotFound("missing", cache.beginRead("missing"));
    expect(cache.lookup("missing")).toEqual({ notFound: true });
    expect(cache.lookupStale("missing")).toBeUndefined();
    now += 101;
    expect(cache.lookup("missing")).toBeUndefined();
    expect(cache.lookupStale("missing")).toBeUndefined();

    cache.completeRead("a", cache.beginRead("a"), { v: "1" });
    now += 200;
    expect(cache.lookupStale("a")).toEqual({ v: "1" });
    cache.invalidate("a");
    expect(cache.lookupStale("a")).toBeUndefined();
  });
});

describe("stale-if-error", () => {
  it("answers an unavailable provider from the expired entry, and a read afterwards refreshes it", async () => {
    const { store, state, inner } = staleStore();
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    expect(await store.getSecretValues(id)).toEqual({ v: "1" });
    await sleep(5); // past ttlMs
    state.failWith = unavailable;
    const gets = state.gets;
    const stale = await store.getSecretValues(id);
    expect(stale).toEqual({ v: "1" });
    expect(state.gets).toBe(gets + 1); // it asked the provider first
    stale.v = "changed by the caller";
    expect(await store.getSecretValues(id)).toEqual({ v: "1" });
    // Back: a value written behind the store's back is read.
    state.failWith = undefined;
    await inner.updateSecretValues(id, { v: "2" }, '{"v":"2"}', {});
    expect(await store.getSecretValues(id)).toEqual({ v: "2" });
  });

  it("fails for a secret never read, and for any other error than unavailability", async () => {
    const { store, state } = staleStore();
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    await store.getSecretValues(id);
    await sleep(5);
    state.failWith = unavailable;
    await expect(store.getSecretValues(randomUUID())).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    for (const [error, code] of [
      [() => new PermissionDeniedError(id), "E_PERMISSION_DENIED"],
      [() => new SecretNotFoundError(id), "E_SECRET_NOT_FOUND"],
      [() => new SecretIntegrityError(id, "bad"), "E_SECRET_INTEGRITY"],
      [() => new Error("unknown"), "E_UNKNOWN"],
    ] as const) {
      state.failWith = error;
      await expect(store.getSecretValues(id)).rejects.toMatchObject({ code });
    }
    // The entry is still there for unavailability.
    state.failWith = unavailable;
    expect(await store.getSecretValues(id)).toEqual({ v: "1" });
  });

  it("never serves a value this process replaced or deleted, even when the write failed", async () => {
    const { store, state, adapter } = staleStore();
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    await store.getSecretValues(id);
    await store.updateSecretValues(id, { v: "2" });
    await sleep(5);
    state.failWith = unavailable;
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });

    state.failWith = undefined;
    const other = randomUUID();
    await store.storeSecretValues(other, { v: "1" });
    await store.getSecretValues(other);
    // A delete that fails (unavailable) still drops the entry: its effect is unknown.
    const deleteSecretValues = adapter.deleteSecretValues;
    adapter.deleteSecretValues = async () => {
      throw unavailable();
    };
    await expect(store.deleteSecretValues(other)).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    adapter.deleteSecretValues = deleteSecretValues;
    state.failWith = unavailable;
    await expect(store.getSecretValues(other)).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
  });

  it("serves nothing once ttlMs + staleIfErrorMs has passed", async () => {
    const { store, state } = staleStore({ staleIfErrorMs: 5 });
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    await store.getSecretValues(id);
    await sleep(30);
    state.failWith = unavailable;
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
  });

  it("with a backup store: primary, then backup, then the stale entry; never stale once the primary said not found", async () => {
    const primary = flakyAdapter();
    const backup = flakyAdapter();
    const adapter = new BackupAdapter(
      { adapter: primary.adapter, provider: "first" },
      { adapter: backup.adapter, provider: "second" },
      { onBackupError: () => undefined, checkAfterWrite: false },
    );
    const store = SecretStore.fromAdapter(adapter, { cache: { ttlMs: 1, staleIfErrorMs: 60_000 } });
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    expect(await store.getSecretValues(id)).toEqual({ v: "1" });
    await backup.inner.updateSecretValues(id, { v: "backup" }, '{"v":"backup"}', {});
    await sleep(5);
    primary.state.failWith = unavailable;
    expect(await store.getSecretValues(id)).toEqual({ v: "backup" });
    backup.state.failWith = unavailable;
    expect(await store.getSecretValues(id)).toEqual({ v: "1" });
    // The primary answers that the secret is gone (another process deleted it): no stale value.
    primary.state.failWith = undefined;
    await primary.inner.deleteSecretValues(id, {});
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
  });

  for (const batch of [false, true]) {
    it(`getManySecretValues answers unavailable ids from stale entries (${batch ? "batch reads" : "one get each"})`, async () => {
      const { store, state } = staleStore({ batch });
      const [read, unread] = [randomUUID(), randomUUID()];
      await store.storeSecretValues(read, { v: "1" });
      await store.storeSecretValues(unread, { v: "2" });
      await store.getSecretValues(read);
      await sleep(5);
      state.failWith = unavailable;
      const results = await store.getManySecretValues([read, unread]);
      expect(results.get(read)).toEqual({ values: { v: "1" } });
      expect(results.get(unread)).toMatchObject({ error: { code: "E_PROVIDER_UNAVAILABLE" } });
    });
  }
});

describe("fresh reads", () => {
  it("skip a fresh cache entry, read the provider and refresh the entry", async () => {
    const inner = flakyAdapter();
    const store = SecretStore.fromAdapter(inner.adapter, { cache: { ttlMs: 60_000 } });
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    expect(await store.getSecretValues(id)).toEqual({ v: "1" });
    await inner.inner.updateSecretValues(id, { v: "2" }, '{"v":"2"}', {});
    expect(await store.getSecretValues(id)).toEqual({ v: "1" }); // cached
    const gets = inner.state.gets;
    expect(await store.getSecretValues(id, { fresh: true })).toEqual({ v: "2" });
    expect(inner.state.gets).toBe(gets + 1);
    // The entry now holds what the fresh read saw.
    expect(await store.getSecretValues(id)).toEqual({ v: "2" });
    expect(inner.state.gets).toBe(gets + 1);
    // A cached not-found is skipped too.
    const missing = randomUUID();
    const notFoundStore = SecretStore.fromAdapter(inner.adapter, { cache: { ttlMs: 60_000, cacheNotFound: true } });
    await expect(notFoundStore.getSecretValues(missing)).rejects.toBeInstanceOf(SecretNotFoundError);
    await inner.inner.storeSecretValues(missing, { v: "3" }, '{"v":"3"}', {});
    await expect(notFoundStore.getSecretValues(missing)).rejects.toBeInstanceOf(SecretNotFoundError);
    expect(await notFoundStore.getSecretValues(missing, { fresh: true })).toEqual({ v: "3" });
  });

  it("fall back on the stale entry when the provider is unavailable (the configured fallback applies)", async () => {
    const { store, state } = staleStore();
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    await store.getSecretValues(id);
    state.failWith = unavailable;
    expect(await store.getSecretValues(id, { fresh: true })).toEqual({ v: "1" });
  });

  it("change nothing without a cache", async () => {
    const inner = flakyAdapter();
    const store = SecretStore.fromAdapter(inner.adapter);
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    expect(await store.getSecretValues(id, { fresh: true })).toEqual({ v: "1" });
    expect(await store.getSecretValues(id, { fresh: false })).toEqual({ v: "1" });
    expect(inner.state.gets).toBe(2);
  });

  for (const batch of [false, true]) {
    it(`getManySecretValues with fresh reads every id from the provider and refreshes the entries (${batch ? "batch reads" : "one get each"})`, async () => {
      const inner = flakyAdapter({ batch });
      const store = SecretStore.fromAdapter(inner.adapter, { cache: { ttlMs: 60_000 } });
      const ids = [randomUUID(), randomUUID()];
      for (const id of ids) await store.storeSecretValues(id, { v: "1" });
      await store.getManySecretValues(ids);
      for (const id of ids) await inner.inner.updateSecretValues(id, { v: "2" }, '{"v":"2"}', {});
      expect([...(await store.getManySecretValues(ids)).values()]).toEqual([
        { values: { v: "1" } },
        { values: { v: "1" } },
      ]);
      const gets = inner.state.gets;
      expect([...(await store.getManySecretValues(ids, { fresh: true })).values()]).toEqual([
        { values: { v: "2" } },
        { values: { v: "2" } },
      ]);
      expect(inner.state.gets).toBe(gets + 2);
      expect([...(await store.getManySecretValues(ids)).values()]).toEqual([
        { values: { v: "2" } },
        { values: { v: "2" } },
      ]);
      expect(inner.state.gets).toBe(gets + 2);
    });
  }
});

describe("configuration of stale-if-error and the circuit breaker", () => {
  it("are accepted by every provider, with defaults, and read from the environment", async () => {
    for (const config of [
      { provider: "local" },
      { provider: "memory" },
      { provider: "aws", region: "us-east-1" },
      { provider: "vault", token: "t" },
      { provider: "gcp", projectId: "my-project" },
      { provider: "azure", vaultUrl: "https://x.vault.azure.net" },
      { provider: "custom", module: "./x.mjs" },
    ]) {
      const { config: resolved } = await resolveConfig({
        ...config,
        cache: { ttlMs: 10, staleIfErrorMs: 300_000 },
        circuitBreaker: {},
      });
      expect(resolved.cache?.staleIfErrorMs).toBe(300_000);
      expect(resolved.circuitBreaker).toEqual({ failureThreshold: 5, openMs: 30_000 });
      expect((await resolveConfig(config)).config.circuitBreaker).toBeUndefined();
    }
    const fromEnv = configFromSources({
      env: {
        OMNISECRET_PROVIDER: "memory",
        OMNISECRET_CACHE_TTL_MS: "10",
        OMNISECRET_CACHE_STALE_IF_ERROR_MS: "60000",
        OMNISECRET_CIRCUIT_BREAKER_FAILURE_THRESHOLD: "3",
        OMNISECRET_CIRCUIT_BREAKER_OPEN_MS: "2000",
      },
    });
    expect(fromEnv).toMatchObject({
      cache: { ttlMs: 10, staleIfErrorMs: 60_000 },
      circuitBreaker: { failureThreshold: 3, openMs: 2_000 },
    });
    const store = await SecretStore.create(fromEnv);
    expect(store.toJSON()).toMatchObject({
      cache: { staleIfErrorMs: 60_000 },
      circuitBreaker: { failureThreshold: 3, openMs: 2_000 },
    });
    await store.close();
  });

  it("refuses bad values with E_CONFIG naming the field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ cache: { ttlMs: 10, staleIfErrorMs: -1 } }, "cache.staleIfErrorMs"],
      [{ cache: { ttlMs: 10, staleIfErrorMs: 1.5 } }, "cache.staleIfErrorMs"],
      [{ cache: { ttlMs: 10, staleIfErrorMs: "1" } }, "cache.staleIfErrorMs"],
      [{ circuitBreaker: { failureThreshold: 0 } }, "circuitBreaker.failureThreshold"],
      [{ circuitBreaker: { openMs: 0 } }, "circuitBreaker.openMs"],
      [{ circuitBreaker: { openMs: 3_600_001 } }, "circuitBreaker.openMs"],
      [{ circuitBreaker: true }, "circuitBreaker"],
      [{ circuitBreaker: { threshold: 3 } }, "circuitBreaker"],
      [
        { backup: { provider: "local", path: "/tmp/x.db", circuitBreaker: { openMs: -5 } } },
        "backup.circuitBreaker.openMs",
      ],
    ];
    for (const [fields, field] of cases) {
      await expect(SecretStore.create({ provider: "memory", ...fields }), field).rejects.toMatchObject({
        code: "E_CONFIG",
        field,
      });
    }
    expect(() =>
      configFromSources({ env: { OMNISECRET_PROVIDER: "memory", OMNISECRET_CIRCUIT_BREAKER_OPEN_MS: "soon" } }),
    ).toThrow(/OMNISECRET_CIRCUIT_BREAKER_OPEN_MS must be an integer/);
  });
});
