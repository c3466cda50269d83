/** The facade's versions (issue 23): checks before any request, the read cache, rollback, the backup store. */
import { randomUUID } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { MemoryAdapter } from "../adapters/memory/index.js";
import { BackupAdapter, type BackupEvent } from "./backup-adapter.js";
import type { CallOptions, ReadOptions, SecretsAdapter } from "./contract.js";
import { ProviderUnavailableError } from "./errors.js";
import { MAX_VERSION_TOKEN_LENGTH } from "./kit/version-token.js";
import { adapterProblems, NO_OPTIONS } from "./legacy-adapter.js";
import { SecretStore } from "./secret-store.js";
import { testSecretsAdapter } from "./testing/index.js";

/** A memory adapter keeping `keepVersions`, whose methods are spies, and that can be switched to fail as unavailable. */
function spiedMemory(keepVersions = 2, provider = "memory") {
  const inner = new MemoryAdapter({ maxValueBytes: 65_536, keepVersions });
  const state = { down: false };
  const pass =
    <A extends unknown[], R>(method: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (state.down) throw new ProviderUnavailableError(args[0] as string, { provider });
      return method.apply(inner, args);
    };
  const adapter = {
    provider,
    capabilities: inner.capabilities,
    storeSecretValues: vi.fn(pass(inner.storeSecretValues)),
    getSecretValues: vi.fn(pass(inner.getSecretValues)),
    updateSecretValues: vi.fn(pass(inner.updateSecretValues)),
    deleteSecretValues: vi.fn(pass(inner.deleteSecretValues)),
    listSecretIds: (options: CallOptions) => inner.listSecretIds(options),
    listSecretVersions: vi.fn(pass(inner.listSecretVersions)),
    isVersionToken: vi.fn((token: string) => inner.isVersionToken(token)),
  } satisfies SecretsAdapter;
  return { adapter, state };
}

describe("SecretStore versions", () => {
  it("reads the latest as before: the adapter gets the shared empty options, with or without version latest", async () => {
    const { adapter } = spiedMemory();
    const store = SecretStore.fromAdapter(adapter);
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    await store.getSecretValues(id);
    await store.getSecretValues(id, { version: "latest" });
    await store.getSecretValues(id, { version: undefined });
    for (const [, options] of adapter.getSecretValues.mock.calls) expect(options).toBe(NO_OPTIONS);
    const { signal } = new AbortController();
    await store.getSecretValues(id, { signal, version: "latest" });
    expect(adapter.getSecretValues.mock.calls.at(-1)?.[1]).toEqual({ signal });
  });

  it("hands the adapter the version and the caller's signal", async () => {
    const { adapter } = spiedMemory();
    const store = SecretStore.fromAdapter(adapter);
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    await store.updateSecretValues(id, { v: "2" });
    const { signal } = new AbortController();
    expect(await store.getSecretValues(id, { version: "previous", signal })).toEqual({ v: "1" });
    expect(adapter.getSecretValues).toHaveBeenLastCalledWith(id, { signal, version: "previous" });
    const [current] = await store.listSecretVersions(id, { signal });
    expect(adapter.listSecretVersions).toHaveBeenLastCalledWith(id, { signal });
    expect(await store.getSecretValues(id.toUpperCase(), { version: current?.token })).toEqual({ v: "2" });
    expect(adapter.getSecretValues).toHaveBeenLastCalledWith(id, { version: current?.token });
  });

  it("refuses a version an adapter without versions cannot read: E_NOT_SUPPORTED naming the provider, no request", async () => {
    const legacy = {
      storeSecretValues: vi.fn(async () => undefined),
      getSecretValues: vi.fn(async () => ({})),
      updateSecretValues: vi.fn(async () => undefined),
      deleteSecretValues: vi.fn(async () => undefined),
    };
    const store = SecretStore.fromAdapter(legacy, { provider: "mine" });
    const id = randomUUID();
    for (const call of [
      () => store.getSecretValues(id, { version: "previous" }),
      () => store.getSecretValues(id, { version: "abc.1" }),
      () => store.listSecretVersions(id),
      () => store.rollbackSecretValues(id),
    ]) {
      await expect(call()).rejects.toMatchObject({
        code: "E_NOT_SUPPORTED",
        provider: "mine",
        message: expect.stringContaining("provider mine"),
      });
    }
    expect(legacy.getSecretValues).not.toHaveBeenCalled();
    expect(legacy.updateSecretValues).not.toHaveBeenCalled();
    // The latest stays readable.
    expect(await store.getSecretValues(id, { version: "latest" })).toEqual({});
  });

  it("refuses a token the adapter does not accept, an empty or too long one, before any request", async () => {
    const { adapter } = spiedMemory();
    const store = SecretStore.fromAdapter(adapter);
    const id = randomUUID();
    for (const [version, reason] of [
      ["", "is empty"],
      ["1".repeat(MAX_VERSION_TOKEN_LENGTH + 1), `longer than ${MAX_VERSION_TOKEN_LENGTH}`],
      ["v1", 'not "latest", "previous" or a version token of provider memory'],
    ] as const) {
      await expect(store.getSecretValues(id, { version })).rejects.toMatchObject({
        code: "E_INVALID_VERSION",
        name: "InvalidVersionError",
        field: "version",
        secretId: id,
        provider: "memory",
        message: expect.stringContaining(reason),
      });
    }
    // Only the last one was the adapter's to judge; none was sent.
    expect(adapter.isVersionToken).toHaveBeenCalledTimes(1);
    expect(adapter.getSecretValues).not.toHaveBeenCalled();
    // The token is not echoed: it may have been pasted from anywhere.
    await expect(store.getSecretValues(id, { version: "pasted-s3cr3t" })).rejects.not.toThrow(/pasted-s3cr3t/);
    // A bad id is refused first, as for every call.
    await expect(store.getSecretValues("nope", { version: "" })).rejects.toMatchObject({ code: "E_INVALID_SECRET_ID" });
  });

  it("reads versions past the read cache and leaves its entry alone; a rollback drops it like an update", async () => {
    const { adapter } = spiedMemory(3);
    const store = SecretStore.fromAdapter(adapter, { cache: { ttlMs: 60_000 } });
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "A" });
    await store.updateSecretValues(id, { v: "B" });
    expect(await store.getSecretValues(id)).toEqual({ v: "B" });
    expect(await store.getSecretValues(id)).toEqual({ v: "B" });
    expect(adapter.getSecretValues).toHaveBeenCalledTimes(1);
    expect(await store.getSecretValues(id, { version: "previous" })).toEqual({ v: "A" });
    expect(await store.getSecretValues(id, { version: "previous" })).toEqual({ v: "A" });
    expect(adapter.getSecretValues).toHaveBeenCalledTimes(3);
    // The versioned reads cached nothing: the latest is still the cached B, read once.
    expect(await store.getSecretValues(id)).toEqual({ v: "B" });
    expect(adapter.getSecretValues).toHaveBeenCalledTimes(3);
    await store.rollbackSecretValues(id);
    expect(await store.getSecretValues(id)).toEqual({ v: "A" });
    expect(await store.getSecretValues(id, { version: "previous" })).toEqual({ v: "B" });
    // A batch read is of the latest.
    const many = await store.getManySecretValues([id]);
    expect(many.get(id)).toEqual({ values: { v: "A" } });
  });

  it("takes capabilities.versions as a promise of listSecretVersions and isVersionToken", () => {
    const methods = {
      storeSecretValues: async () => undefined,
      getSecretValues: async () => ({ values: {} }),
      updateSecretValues: async () => undefined,
      deleteSecretValues: async () => undefined,
    };
    expect(adapterProblems({ ...methods, capabilities: { versions: true } })).toEqual([
      "listSecretVersions (capabilities.versions is true)",
      "isVersionToken (capabilities.versions is true)",
    ]);
    expect(adapterProblems(new MemoryAdapter({ maxValueBytes: 65_536 }))).toEqual([]);
  });

  it("lists versions as fresh objects: changing them changes nothing", async () => {
    const store = SecretStore.fromAdapter(new MemoryAdapter({ maxValueBytes: 65_536, keepVersions: 2 }));
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "A" });
    const [listed] = await store.listSecretVersions(id);
    listed?.createdAt.setTime(0);
    const [again] = await store.listSecretVersions(id);
    expect(again?.createdAt.getTime()).not.toBe(0);
  });

  it("an aborted signal ends a versioned read, a list and a rollback with its reason", async () => {
    const { adapter } = spiedMemory();
    const store = SecretStore.fromAdapter(adapter);
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "A" });
    await store.updateSecretValues(id, { v: "B" });
    const reason = new Error("gave up");
    const signal = AbortSignal.abort(reason);
    await expect(store.getSecretValues(id, { version: "previous", signal })).rejects.toBe(reason);
    await expect(store.listSecretVersions(id, { signal })).rejects.toBe(reason);
    await expect(store.rollbackSecretValues(id, { signal })).rejects.toBe(reason);
    expect(await store.getSecretValues(id)).toEqual({ v: "B" });
  });
});

// The backup store keeps versions through its primary.
testSecretsAdapter("backup (memory over memory), keepVersions 2", {
  createAdapter: () =>
    new BackupAdapter(
      { adapter: new MemoryAdapter({ maxValueBytes: 65_536, keepVersions: 2 }), provider: "memory" },
      { adapter: new MemoryAdapter({ maxValueBytes: 65_536 }), provider: "memory" },
    ),
  sharedStorage: false,
  versions: { keepVersions: 2 },
});

describe("backup store versions", () => {
  function pair() {
    const primary = spiedMemory(2, "primary");
    const backup = spiedMemory(2, "backup");
    const events: BackupEvent[] = [];
    const adapter = new BackupAdapter(
      { adapter: primary.adapter, provider: "primary" },
      { adapter: backup.adapter, provider: "backup" },
      { onBackupError: (event) => events.push(event) },
    );
    return { primary, backup, events, store: SecretStore.fromAdapter(adapter) };
  }

  it("reads versions and lists them from the primary alone; its tokens are the primary's", async () => {
    const { primary, backup, store, events } = pair();
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "A" });
    await store.updateSecretValues(id, { v: "B" });
    backup.adapter.getSecretValues.mockClear();
    expect(await store.getSecretValues(id, { version: "previous" })).toEqual({ v: "A" });
    const versions = await store.listSecretVersions(id);
    expect(versions).toHaveLength(2);
    expect(await store.getSecretValues(id, { version: versions[1]?.token })).toEqual({ v: "A" });
    expect(primary.adapter.isVersionToken).toHaveBeenCalled();
    expect(backup.adapter.getSecretValues).not.toHaveBeenCalled();
    expect(backup.adapter.listSecretVersions).not.toHaveBeenCalled();
    // A rollback is an update: both sides take it.
    await store.rollbackSecretValues(id);
    expect((await backup.adapter.getSecretValues(id, NO_OPTIONS as ReadOptions)).values).toEqual({ v: "A" });
    expect(events).toEqual([]);
  });

  it("fails versioned reads with E_PROVIDER_UNAVAILABLE while the primary is down, never asking the backup", async () => {
    const { primary, backup, store } = pair();
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "A" });
    await store.updateSecretValues(id, { v: "B" });
    const [current] = await store.listSecretVersions(id);
    primary.state.down = true;
    backup.adapter.getSecretValues.mockClear();
    for (const call of [
      () => store.getSecretValues(id, { version: "previous" }),
      () => store.getSecretValues(id, { version: current?.token }),
      () => store.listSecretVersions(id),
      () => store.rollbackSecretValues(id),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE", provider: "primary" });
    }
    expect(backup.adapter.getSecretValues).not.toHaveBeenCalled();
    expect(backup.adapter.listSecretVersions).not.toHaveBeenCalled();
    // The latest still falls back to the backup.
    expect(await store.getSecretValues(id)).toEqual({ v: "B" });
  });

  it("keeps no versions over a primary without them", async () => {
    const legacy = {
      storeSecretValues: async () => undefined,
      getSecretValues: async () => ({}),
      updateSecretValues: async () => undefined,
      deleteSecretValues: async () => undefined,
    };
    const adapter = new BackupAdapter(
      { adapter: legacy, provider: "legacy" },
      { adapter: new MemoryAdapter({ maxValueBytes: 65_536, keepVersions: 2 }), provider: "memory" },
    );
    await expect(SecretStore.fromAdapter(adapter).listSecretVersions(randomUUID())).rejects.toMatchObject({
      code: "E_NOT_SUPPORTED",
      provider: "legacy",
    });
  });
});
