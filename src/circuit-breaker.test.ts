import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MemoryAdapter } from "../adapters/memory/index.js";
import { circuitBreakerOf, createAdapterFromConfig } from "./adapter-factory.js";
import { BackupAdapter } from "./backup-adapter.js";
import { CircuitBreaker, CircuitBreakerAdapter, type CircuitStateChange } from "./circuit-breaker.js";
import type { SecretsAdapter } from "./contract.js";
import {
  PermissionDeniedError,
  ProviderUnavailableError,
  SecretNotFoundError,
  type SecretStoreError,
  SecretStoreError as StoreError,
} from "./errors.js";
import { circuitBreakersOf, SecretStore } from "./secret-store.js";

/** A memory adapter whose calls can be made to fail with a given error, counting the calls that reach it. */
function switchableAdapter(provider = "inner") {
  const inner = new MemoryAdapter({ maxValueBytes: 65_536 });
  const state: { failWith: (() => Error) | undefined; calls: number; hold: Promise<void> | undefined } = {
    failWith: undefined,
    calls: 0,
    hold: undefined,
  };
  const reach = async () => {
    state.calls += 1;
    if (state.hold) await state.hold;
    if (state.failWith) throw state.failWith();
  };
  const adapter: SecretsAdapter = {
    provider,
    capabilities: { ...inner.capabilities },
    async storeSecretValues(id, values, serialized, options) {
      await reach();
      return inner.storeSecretValues(id, values, serialized, options);
    },
    async getSecretValues(id, options) {
      await reach();
      return inner.getSecretValues(id, options);
    },
    async updateSecretValues(id, values, serialized, options) {
      await reach();
      return inner.updateSecretValues(id, values, serialized, options);
    },
    async deleteSecretValues(id, options) {
      await reach();
      return inner.deleteSecretValues(id, options);
    },
    async *listSecretIds(options) {
      await reach();
      yield* inner.listSecretIds(options);
    },
  };
  return { adapter, state };
}

const unavailable = () => new ProviderUnavailableError(undefined, { provider: "inner" });

function fakeClock(start = 1_000) {
  const clock = { now: start, read: { now: () => clock.now } };
  return clock;
}

function guarded(options = { failureThreshold: 3, openMs: 10_000 }) {
  const clock = fakeClock();
  const { adapter, state } = switchableAdapter();
  const breaker = new CircuitBreaker(options, { provider: "inner", clock: clock.read });
  const changes: CircuitStateChange[] = [];
  breaker.onStateChange((change) => changes.push(change));
  return { clock, state, breaker, changes, adapter: new CircuitBreakerAdapter(adapter, breaker) };
}

const id = () => randomUUID();
const get = (adapter: SecretsAdapter, secretId = id()) => adapter.getSecretValues(secretId, {});

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as SecretStoreError).code;
  }
}

describe("circuit breaker", () => {
  it("opens after failureThreshold consecutive unavailable answers, then fails at once naming the provider and the time left", async () => {
    const { clock, state, breaker, changes, adapter } = guarded();
    state.failWith = unavailable;
    for (let i = 0; i < 3; i += 1) expect(await codeOf(get(adapter))).toBe("E_PROVIDER_UNAVAILABLE");
    expect(breaker.state).toBe("open");
    expect(changes).toEqual([{ provider: "inner", side: "primary", state: "open", previous: "closed" }]);
    clock.now += 2_500;
    const calls = state.calls;
    const secretId = id();
    const refused = await get(adapter, secretId).catch((error: unknown) => error as SecretStoreError);
    expect(refused).toBeInstanceOf(ProviderUnavailableError);
    expect(refused).toMatchObject({ code: "E_PROVIDER_UNAVAILABLE", provider: "inner", secretId });
    expect((refused as Error).message).toMatch(/circuit breaker of provider "inner" is open/);
    expect((refused as Error).message).toMatch(/7\.5 s more/);
    // Writes too, and none reaches the adapter.
    expect(await codeOf(adapter.storeSecretValues(id(), { a: "1" }, '{"a":"1"}', {}))).toBe("E_PROVIDER_UNAVAILABLE");
    expect(await codeOf(adapter.deleteSecretValues(id(), {}))).toBe("E_PROVIDER_UNAVAILABLE");
    expect(state.calls).toBe(calls);
  });

  it("counts only unavailability: an answer of the provider (not found, permission) resets the count; E_UNKNOWN neither counts nor resets", async () => {
    const { state, breaker, adapter } = guarded();
    state.failWith = unavailable;
    await get(adapter).catch(() => undefined);
    await get(adapter).catch(() => undefined);
    state.failWith = () => new PermissionDeniedError(undefined, { provider: "inner" });
    await get(adapter).catch(() => undefined);
    state.failWith = unavailable;
    await get(adapter).catch(() => undefined);
    await get(adapter).catch(() => undefined);
    expect(breaker.state).toBe("closed");
    state.failWith = undefined;
    expect(await codeOf(get(adapter))).toBe("E_SECRET_NOT_FOUND"); // reset again
    state.failWith = unavailable;
    await get(adapter).catch(() => undefined);
    await get(adapter).catch(() => undefined);
    state.failWith = () => new StoreError("E_UNKNOWN", "something else");
    await get(adapter).catch(() => undefined);
    expect(breaker.state).toBe("closed");
    state.failWith = unavailable;
    await get(adapter).catch(() => undefined);
    expect(breaker.state).toBe("open");
  });

  it("a caller's abort neither counts nor resets", async () => {
    const { state, breaker, adapter } = guarded({ failureThreshold: 2, openMs: 10_000 });
    state.failWith = unavailable;
    const controller = new AbortController();
    controller.abort();
    for (let i = 0; i < 3; i += 1) await adapter.getSecretValues(id(), { signal: controller.signal }).catch(() => 0);
    expect(breaker.state).toBe("closed");
    await get(adapter).catch(() => undefined);
    await get(adapter).catch(() => undefined);
    expect(breaker.state).toBe("open");
  });

  it("after openMs lets one trial through: others fail at once meanwhile; success closes it", async () => {
    const { clock, state, breaker, changes, adapter } = guarded();
    state.failWith = unavailable;
    for (let i = 0; i < 3; i += 1) await get(adapter).catch(() => undefined);
    clock.now += 10_000;
    expect(breaker.state).toBe("half-open");
    state.failWith = undefined;
    let release = () => {};
    state.hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const secretId = id();
    const trial = adapter.storeSecretValues(secretId, { a: "1" }, '{"a":"1"}', {});
    const during = (await get(adapter).catch((error: unknown) => error)) as Error;
    expect(during).toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    expect(during.message).toMatch(/half-open.*trial call/);
    release();
    state.hold = undefined;
    await trial;
    expect(breaker.state).toBe("closed");
    expect((await get(adapter, secretId)).values).toEqual({ a: "1" });
    expect(changes.map((change) => change.state)).toEqual(["open", "half-open", "closed"]);
  });

  it("a failed trial opens it again for openMs", async () => {
    const { clock, state, breaker, adapter } = guarded();
    state.failWith = unavailable;
    for (let i = 0; i < 3; i += 1) await get(adapter).catch(() => undefined);
    clock.now += 10_000;
    const calls = state.calls;
    expect(await codeOf(get(adapter))).toBe("E_PROVIDER_UNAVAILABLE");
    expect(state.calls).toBe(calls + 1);
    expect(breaker.state).toBe("open");
    clock.now += 9_999;
    expect(await codeOf(get(adapter))).toBe("E_PROVIDER_UNAVAILABLE");
    expect(state.calls).toBe(calls + 1);
    clock.now += 1;
    expect(breaker.state).toBe("half-open");
  });

  it("a trial that ends in E_UNKNOWN leaves it half-open for the next call", async () => {
    const { clock, state, breaker, adapter } = guarded();
    state.failWith = unavailable;
    for (let i = 0; i < 3; i += 1) await get(adapter).catch(() => undefined);
    clock.now += 10_000;
    state.failWith = () => new Error("a bug");
    await get(adapter).catch(() => undefined);
    expect(breaker.state).toBe("half-open");
    state.failWith = undefined;
    expect(await codeOf(get(adapter))).toBe("E_SECRET_NOT_FOUND");
    expect(breaker.state).toBe("closed");
  });

  it("guards list as well: a list that fails counts, an open breaker refuses it", async () => {
    const { state, breaker, adapter } = guarded({ failureThreshold: 1, openMs: 10_000 });
    state.failWith = unavailable;
    const list = async () => {
      const ids: string[] = [];
      for await (const each of adapter.listSecretIds?.({}) ?? []) ids.push(each);
      return ids;
    };
    expect(await codeOf(list())).toBe("E_PROVIDER_UNAVAILABLE");
    expect(breaker.state).toBe("open");
    const calls = state.calls;
    expect(await codeOf(list())).toBe("E_PROVIDER_UNAVAILABLE");
    expect(state.calls).toBe(calls);
  });

  it("keeps the inner adapter's optional methods only where it has them", () => {
    const { adapter } = guarded();
    expect(adapter.listSecretIds).toBeTypeOf("function");
    expect(adapter.getManySecretValues).toBeUndefined();
    expect(adapter.deleteSecretValuesIfUnchanged).toBeUndefined();
    expect(adapter.isVersionToken).toBeUndefined();
    expect(adapter.provider).toBe("inner");
  });

  it("with a backup store, each side has its own: an open primary fails over to the backup at once", async () => {
    const primary = switchableAdapter("first");
    const backup = switchableAdapter("second");
    const clock = fakeClock();
    const primaryBreaker = new CircuitBreaker(
      { failureThreshold: 2, openMs: 10_000 },
      { provider: "first", clock: clock.read },
    );
    const backupBreaker = new CircuitBreaker(
      { failureThreshold: 2, openMs: 10_000 },
      { provider: "second", side: "backup", clock: clock.read },
    );
    const events: string[] = [];
    const adapter = new BackupAdapter(
      { adapter: new CircuitBreakerAdapter(primary.adapter, primaryBreaker), provider: "first" },
      { adapter: new CircuitBreakerAdapter(backup.adapter, backupBreaker), provider: "second" },
      { onBackupError: (event) => events.push(event.kind), checkAfterWrite: false },
    );
    const store = SecretStore.fromAdapter(adapter);
    const secretId = id();
    await store.storeSecretValues(secretId, { v: "1" });
    primary.state.failWith = unavailable;
    expect(await store.getSecretValues(secretId)).toEqual({ v: "1" });
    expect(await store.getSecretValues(secretId)).toEqual({ v: "1" });
    expect(primaryBreaker.state).toBe("open");
    expect(backupBreaker.state).toBe("closed");
    const calls = primary.state.calls;
    expect(await store.getSecretValues(secretId)).toEqual({ v: "1" });
    expect(primary.state.calls).toBe(calls);
    expect(events).toEqual(["primary-read-failed", "primary-read-failed", "primary-read-failed"]);
    // Both open: a get fails at once, unavailable.
    backup.state.failWith = unavailable;
    await store.getSecretValues(secretId).catch(() => undefined);
    await store.getSecretValues(secretId).catch(() => undefined);
    expect(backupBreaker.state).toBe("open");
    const backupCalls = backup.state.calls;
    await expect(store.getSecretValues(secretId)).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    expect(backup.state.calls).toBe(backupCalls);
  });

  it("is built from the config around each side, the backup's set like the primary's unless it has its own", async () => {
    const changes: CircuitStateChange[] = [];
    const plain = await createAdapterFromConfig({ provider: "memory" });
    expect(circuitBreakerOf(plain.adapter)).toBeUndefined();

    const one = await createAdapterFromConfig(
      { provider: "memory", circuitBreaker: {} },
      { onCircuitStateChange: (change) => changes.push(change) },
    );
    expect(circuitBreakerOf(one.adapter)?.options).toEqual({ failureThreshold: 5, openMs: 30_000 });
    expect(one.config.circuitBreaker).toEqual({ failureThreshold: 5, openMs: 30_000 });

    const dir = `/tmp/omnisecret-breaker-${randomUUID()}`;
    const both = await createAdapterFromConfig({
      provider: "memory",
      circuitBreaker: { failureThreshold: 2, openMs: 1_000 },
      backup: { provider: "local", path: `${dir}/a.db` },
    });
    const [primarySide, backupSide] = both.sides;
    expect(circuitBreakerOf(primarySide?.adapter as SecretsAdapter)).toMatchObject({
      side: "primary",
      options: { failureThreshold: 2, openMs: 1_000 },
    });
    expect(circuitBreakerOf(backupSide?.adapter as SecretsAdapter)).toMatchObject({
      side: "backup",
      options: { failureThreshold: 2, openMs: 1_000 },
    });
    expect(both.adapter).toBeInstanceOf(BackupAdapter);
    await both.adapter.close?.();

    const store = await SecretStore.create({
      provider: "memory",
      circuitBreaker: {},
      backup: { provider: "local", path: `${dir}/c.db` },
    });
    expect(circuitBreakersOf(store).map((breaker) => [breaker.side, breaker.state])).toEqual([
      ["primary", "closed"],
      ["backup", "closed"],
    ]);
    await store.close();
    expect(circuitBreakersOf(await SecretStore.create({ provider: "memory" }))).toEqual([]);

    const own = await createAdapterFromConfig({
      provider: "memory",
      circuitBreaker: { failureThreshold: 2 },
      backup: { provider: "local", path: `${dir}/b.db`, circuitBreaker: { openMs: 5 } },
    });
    expect(circuitBreakerOf(own.sides[1]?.adapter as SecretsAdapter)?.options).toEqual({
      failureThreshold: 5,
      openMs: 5,
    });
    await own.adapter.close?.();
  });

  it("a breaker's listener that throws changes nothing", async () => {
    const { state, breaker, adapter } = guarded({ failureThreshold: 1, openMs: 10 });
    breaker.onStateChange(() => {
      throw new Error("listener");
    });
    state.failWith = unavailable;
    expect(await codeOf(get(adapter))).toBe("E_PROVIDER_UNAVAILABLE");
    expect(breaker.state).toBe("open");
  });

  it("a not-found answer passes through unchanged", async () => {
    const { adapter } = guarded();
    await expect(get(adapter)).rejects.toBeInstanceOf(SecretNotFoundError);
  });
});
