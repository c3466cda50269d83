import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { BackupAdapter, type BackupEvent } from "./backup-adapter.js";
import { configFromSources } from "./config.js";
import type { CallOptions, SecretRead, SecretsAdapter } from "./contract.js";
import { ProviderUnavailableError } from "./errors.js";
import { createAdapterFromConfig, SecretStore } from "./secret-store.js";
import { withFaults } from "./testing/faults.js";
import { markedSecretValue, testSecretsAdapter } from "./testing/index.js";

const directory = mkdtempSync(join(tmpdir(), "omnisecret-backup-"));

/** A memory adapter that can be switched to fail every call as unavailable, and counts its calls. */
async function switchable(): Promise<SecretsAdapter & { down: boolean; calls: string[] }> {
  const { adapter } = await createAdapterFromConfig({ provider: "memory" });
  const wrapper = {
    down: false,
    calls: [] as string[],
    provider: "memory",
    capabilities: { list: true },
  } as SecretsAdapter & { down: boolean; calls: string[] };
  for (const method of ["storeSecretValues", "getSecretValues", "updateSecretValues", "deleteSecretValues"] as const) {
    Object.assign(wrapper, {
      [method]: async (...args: unknown[]) => {
        wrapper.calls.push(method);
        if (wrapper.down) throw new ProviderUnavailableError(args[0] as string, { provider: "memory" });
        return (adapter[method] as (...a: unknown[]) => Promise<unknown>)(...args);
      },
    });
  }
  wrapper.listSecretIds = async function* () {
    if (wrapper.down) throw new ProviderUnavailableError(undefined, { provider: "memory" });
    yield* adapter.listSecretIds?.({}) ?? [];
  };
  return wrapper;
}

async function pair(cache?: { ttlMs: number }) {
  const primary = await switchable();
  const backup = await switchable();
  const events: BackupEvent[] = [];
  const adapter = new BackupAdapter(
    { adapter: primary, provider: "memory" },
    { adapter: backup, provider: "memory" },
    { onBackupError: (event) => events.push(event) },
  );
  const store = SecretStore.fromAdapter(adapter, { cache });
  const primaryStore = SecretStore.fromAdapter(primary);
  const backupStore = SecretStore.fromAdapter(backup);
  return { primary, backup, events, store, primaryStore, backupStore };
}

// The composed adapter keeps the contract, with the cache off and on.
testSecretsAdapter("backup (memory over memory)", {
  createAdapter: async () =>
    new BackupAdapter(
      { adapter: (await createAdapterFromConfig({ provider: "memory" })).adapter, provider: "memory" },
      { adapter: (await createAdapterFromConfig({ provider: "memory" })).adapter, provider: "memory" },
    ),
  sharedStorage: false,
});

describe("backup store", () => {
  it("writes go to the primary, then the backup", async () => {
    const { store, primaryStore, backupStore, events } = await pair();
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    expect(await backupStore.getSecretValues(id)).toEqual({ v: "1" });
    await store.updateSecretValues(id, { v: "2" });
    expect(await primaryStore.getSecretValues(id)).toEqual({ v: "2" });
    expect(await backupStore.getSecretValues(id)).toEqual({ v: "2" });
    await store.deleteSecretValues(id);
    await expect(backupStore.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    expect(events).toEqual([]);
  });

  it("primary down: the backup serves reads and takes writes, and each is reported", async () => {
    const { store, primary, backupStore, events } = await pair();
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    primary.down = true;
    expect(await store.getSecretValues(id)).toEqual({ v: "1" });
    await store.updateSecretValues(id, { v: "2" });
    expect(await backupStore.getSecretValues(id)).toEqual({ v: "2" });
    const fresh = randomUUID();
    await store.storeSecretValues(fresh, { n: "new" });
    expect(await backupStore.getSecretValues(fresh)).toEqual({ n: "new" });
    const ids: string[] = [];
    for await (const listed of store.listSecretIds()) ids.push(listed);
    expect(ids.sort()).toEqual([id, fresh].sort());
    expect(events.map((event) => [event.kind, event.operation, event.error.code, event.served])).toEqual([
      ["primary-read-failed", "get", "E_PROVIDER_UNAVAILABLE", true],
      ["primary-write-failed", "update", "E_PROVIDER_UNAVAILABLE", true],
      ["primary-write-failed", "store", "E_PROVIDER_UNAVAILABLE", true],
      ["primary-read-failed", "list", "E_PROVIDER_UNAVAILABLE", true],
    ]);
  });

  it("primary missing the secret: the backup's copy is read, updated and deleted", async () => {
    const { store, backupStore, events } = await pair();
    const id = randomUUID();
    await backupStore.storeSecretValues(id, { only: "backup" });
    expect(await store.getSecretValues(id)).toEqual({ only: "backup" });
    await store.updateSecretValues(id, { only: "updated" });
    expect(await backupStore.getSecretValues(id)).toEqual({ only: "updated" });
    await store.deleteSecretValues(id);
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    expect(events.map((event) => event.error.code)).toEqual([
      "E_SECRET_NOT_FOUND",
      "E_SECRET_NOT_FOUND",
      "E_SECRET_NOT_FOUND",
    ]);
  });

  it("a write the primary made succeeds when the backup fails, and reports it", async () => {
    const { store, backup, primaryStore, events } = await pair();
    const id = randomUUID();
    const secret = markedSecretValue();
    backup.down = true;
    await store.storeSecretValues(id, { password: secret });
    expect(await primaryStore.getSecretValues(id)).toEqual({ password: secret });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: "backup-write-failed", operation: "store", secretId: id, served: true });
    expect(events[0]?.error.code).toBe("E_PROVIDER_UNAVAILABLE");
    expect(inspect(events, { depth: 10 })).not.toContain(secret);
    // The next write the backup takes brings it back in line: an update of an id it lacks stores it.
    backup.down = false;
    await store.updateSecretValues(id, { password: "next" });
    expect(await SecretStore.fromAdapter(backup).getSecretValues(id)).toEqual({ password: "next" });
  });

  it("fails when neither side answers, with the primary's error", async () => {
    const { store, primary, backup } = await pair();
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    primary.down = true;
    backup.down = true;
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    await expect(store.updateSecretValues(id, { v: "2" })).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
  });

  it("with the read cache: a value the backup served is not cached, so the primary's is read once it is back", async () => {
    const { store, primary, primaryStore, events } = await pair({ ttlMs: 60_000 });
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "old" });
    primary.down = true;
    expect(await store.getSecretValues(id)).toEqual({ v: "old" });
    primary.down = false;
    // Another process writes the primary only (the backup stays at "old").
    await primaryStore.updateSecretValues(id, { v: "new" });
    expect(await store.getSecretValues(id)).toEqual({ v: "new" });
    // The primary's own answers are cached as before.
    const calls = primary.calls.length;
    expect(await store.getSecretValues(id)).toEqual({ v: "new" });
    expect(primary.calls.length).toBe(calls);
    expect(events).toHaveLength(1);
  });

  it("without a callback, reports through a process warning", async () => {
    const primary = await switchable();
    const backup = await switchable();
    const store = SecretStore.fromAdapter(
      new BackupAdapter({ adapter: primary, provider: "memory" }, { adapter: backup, provider: "memory" }),
    );
    const warnings: Error[] = [];
    const listener = (warning: Error) => warnings.push(warning);
    process.on("warning", listener);
    try {
      backup.down = true;
      const id = randomUUID();
      await store.storeSecretValues(id, { v: "1" });
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((warning) => warning.name)).toContain("OmnisecretBackupWarning");
      expect(warnings.map((warning) => warning.message).join()).toContain(id);
    } finally {
      process.off("warning", listener);
    }
  });
});

describe("backup store and the caller's signal", () => {
  it("ends a call with the caller's abort reason: no fallback to the backup, and nothing reported", async () => {
    const primary = await switchable();
    const backup = await switchable();
    const untilAborted = (call: CallOptions) =>
      new Promise<never>((_, reject) =>
        call.signal?.addEventListener("abort", () => reject(call.signal?.reason), { once: true }),
      );
    const hanging: SecretsAdapter = {
      ...primary,
      storeSecretValues: (_id, _values, _serialized, call) => untilAborted(call),
      getSecretValues: (_id, call) => untilAborted(call),
    };
    const events: BackupEvent[] = [];
    const adapter = new BackupAdapter(
      { adapter: hanging, provider: "memory" },
      { adapter: backup, provider: "memory" },
      { onBackupError: (event) => events.push(event) },
    );
    const id = randomUUID();
    const reason = new DOMException("gave up", "AbortError");
    for (const call of [
      (signal: AbortSignal) => adapter.getSecretValues(id, { signal }),
      (signal: AbortSignal) => adapter.storeSecretValues(id, { a: "b" }, '{"a":"b"}', { signal }),
    ]) {
      const controller = new AbortController();
      const pending = call(controller.signal);
      await new Promise((resolve) => setTimeout(resolve, 1));
      controller.abort(reason);
      await expect(pending).rejects.toBe(reason);
    }
    expect(backup.calls).toEqual([]);
    expect(events).toEqual([]);
  });
});

describe("backup store over a primary with batch reads", () => {
  it("reads a batch from the primary in one call, and what it could not answer per id, from the backup", async () => {
    const { primary, backup, events } = await pair();
    const batches: string[][] = [];
    // A batch read the way AWS answers one: values, and an error for each id it cannot give.
    Object.assign(primary, {
      capabilities: { ...primary.capabilities, batchGet: true, maxBatchSize: 20 },
      async getManySecretValues(ids: readonly string[]) {
        batches.push([...ids]);
        if (primary.down) throw new ProviderUnavailableError(undefined, { provider: "memory" });
        const answers = new Map<string, SecretRead | Error>();
        for (const id of ids) {
          try {
            answers.set(id, await primary.getSecretValues(id, {}));
          } catch (error) {
            answers.set(id, error as Error);
          }
        }
        return answers;
      },
    });
    const adapter = new BackupAdapter(
      { adapter: primary, provider: "memory" },
      { adapter: backup, provider: "memory" },
      { onBackupError: (event) => events.push(event) },
    );
    expect(adapter.capabilities).toMatchObject({ batchGet: true, maxBatchSize: 20 });
    const store = SecretStore.fromAdapter(adapter);
    const [both, backupOnly, nowhere] = [randomUUID(), randomUUID(), randomUUID()];
    await store.storeSecretValues(both, { where: "both" });
    await SecretStore.fromAdapter(backup).storeSecretValues(backupOnly, { where: "backup" });

    primary.calls.length = 0;
    const read = await store.getManySecretValues([both, backupOnly, nowhere], { onMissing: "skip" });
    expect(batches).toEqual([[both, backupOnly, nowhere]]);
    expect(
      Object.fromEntries([...read].map(([id, result]) => [id, "values" in result ? result.values : result.error.code])),
    ).toEqual({
      [both]: { where: "both" },
      [backupOnly]: { where: "backup" },
    });
    // The ids the batch did not answer went the single get's way (the primary again, then the backup).
    expect(primary.calls.filter((call) => call === "getSecretValues")).toHaveLength(3 + 2);

    primary.down = true;
    const served = await store.getManySecretValues([both]);
    expect(served.get(both)).toEqual({ values: { where: "both" } });
    expect(events.some((event) => event.kind === "primary-read-failed" && event.served)).toBe(true);
  });

  it("offers no batch read when the primary has none", async () => {
    const { store } = await pair();
    const adapter = new BackupAdapter(
      { adapter: (await createAdapterFromConfig({ provider: "memory" })).adapter, provider: "memory" },
      { adapter: (await createAdapterFromConfig({ provider: "memory" })).adapter, provider: "memory" },
    );
    expect(adapter.capabilities.batchGet).toBe(false);
    expect(store).toBeDefined();
  });
});

describe("backup config", () => {
  it("builds the two stores from one config, a file or OMNISECRET_BACKUP_CONFIG", async () => {
    const primaryPath = join(directory, `p-${randomUUID()}.db`);
    const backupPath = join(directory, `b-${randomUUID()}.db`);
    const store = await SecretStore.create({
      provider: "local",
      path: primaryPath,
      backup: { provider: "local", path: backupPath },
    });
    const id = randomUUID();
    await store.storeSecretValues(id, { k: "v" });
    await store.close();
    const backupOnly = await SecretStore.create({ provider: "local", path: backupPath });
    expect(await backupOnly.getSecretValues(id)).toEqual({ k: "v" });
    await backupOnly.close();

    const asJson = configFromSources({
      env: { OMNISECRET_LOCAL_PATH: primaryPath, OMNISECRET_BACKUP_CONFIG: JSON.stringify({ provider: "memory" }) },
    });
    expect(asJson.backup).toEqual({ provider: "memory" });
    const file = join(directory, "backup.json");
    writeFileSync(file, JSON.stringify({ provider: "local", path: backupPath }));
    const fromFile = configFromSources({ env: { OMNISECRET_LOCAL_PATH: primaryPath, OMNISECRET_BACKUP_CONFIG: file } });
    expect(fromFile.backup).toEqual({ provider: "local", path: backupPath });
    const viaEnv = await SecretStore.fromEnv({ OMNISECRET_LOCAL_PATH: primaryPath, OMNISECRET_BACKUP_CONFIG: file });
    expect(await viaEnv.getSecretValues(id)).toEqual({ k: "v" });
    expect(inspect(viaEnv)).toContain("backup");
    await viaEnv.close();
  });

  it("refuses a backup at the primary's own location with E_CONFIG, whatever the prefix", async () => {
    const path = join(directory, "same.db");
    const cases: Record<string, unknown>[] = [
      { provider: "local", path, backup: { provider: "local", path, prefix: "other" } },
      { provider: "local", backup: { provider: "local" } },
      {
        provider: "vault",
        address: "http://127.0.0.1:8200",
        token: "t",
        backup: { provider: "vault", address: "http://127.0.0.1:8200/", token: "u", prefix: "x" },
      },
      {
        provider: "aws",
        region: "eu-west-1",
        backup: { provider: "aws", region: "eu-west-1", prefix: "copy" },
      },
      { provider: "gcp", projectId: "p-1", backup: { provider: "gcp", projectId: "p-1", prefix: "copy" } },
      {
        provider: "azure",
        vaultUrl: "https://a.vault.azure.net",
        backup: { provider: "azure", vaultUrl: "https://A.vault.azure.net/" },
      },
    ];
    for (const config of cases) {
      const error = await SecretStore.create(config).catch((caught: unknown) => caught);
      expect(error, JSON.stringify(config)).toMatchObject({ code: "E_CONFIG", field: "backup" });
      expect(String((error as Error).message)).toContain("primary's own location");
    }
  });

  it("accepts another place of the same provider, and memory backups (each its own place)", async () => {
    const a = await SecretStore.create({ provider: "memory", backup: { provider: "memory" } });
    await a.close();
    const vault = await SecretStore.create({
      provider: "vault",
      token: "t",
      backup: { provider: "vault", token: "t", mount: "kv-backup" },
    });
    await vault.close();
  });

  it("names the backup's bad field, and refuses a backup's own backup or cache", async () => {
    await expect(
      SecretStore.create({ provider: "memory", backup: { provider: "memory", maxValueBytes: "x" } }),
    ).rejects.toMatchObject({
      code: "E_CONFIG",
      field: "backup.maxValueBytes",
    });
    await expect(
      SecretStore.create({ provider: "memory", backup: { provider: "memory", backup: { provider: "memory" } } }),
    ).rejects.toMatchObject({ field: "backup.backup" });
    await expect(
      SecretStore.create({ provider: "memory", backup: { provider: "memory", cache: { ttlMs: 1 } } }),
    ).rejects.toMatchObject({
      field: "backup.cache",
    });
    await expect(SecretStore.create({ provider: "memory", backup: "memory" })).rejects.toMatchObject({
      field: "backup",
    });
  });
});

describe("backup store: one id's operations in one process (issue 20)", () => {
  async function slowBackupPair() {
    const primary = withFaults((await createAdapterFromConfig({ provider: "memory" })).adapter, { maxDelayMs: 2 });
    const backup = withFaults((await createAdapterFromConfig({ provider: "memory" })).adapter, {
      minDelayMs: 2,
      maxDelayMs: 5,
    });
    const events: BackupEvent[] = [];
    const adapter = new BackupAdapter(
      { adapter: primary, provider: "memory" },
      { adapter: backup, provider: "memory" },
      { onBackupError: (event) => events.push(event) },
    );
    return {
      primary,
      backup,
      events,
      store: SecretStore.fromAdapter(adapter),
      primaryStore: SecretStore.fromAdapter(primary.inner),
      backupStore: SecretStore.fromAdapter(backup.inner),
    };
  }

  it("item 3: a second store of an id stored during a primary outage is refused, and the first values stay", async () => {
    const { store, primary, primaryStore, events } = await pair();
    const id = randomUUID();
    primary.down = true;
    await store.storeSecretValues(id, { first: "1" });
    expect(await store.getSecretValues(id)).toEqual({ first: "1" });
    primary.down = false;
    await expect(store.storeSecretValues(id, { second: "2" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    expect(await store.getSecretValues(id)).toEqual({ first: "1" });
    // The refused store left nothing on the primary either.
    await expect(primaryStore.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    // The backup-only copy it met is reported, as a get of it is.
    const diverged = events.filter((event) => event.kind === "diverged");
    expect(diverged).toHaveLength(1);
    expect(diverged[0]).toMatchObject({ operation: "store", secretId: id, served: false });
    expect(diverged[0]?.error.code).toBe("E_SECRET_EXISTS");
  });

  it("item 4: a store and a concurrent delete of one id (backup slower): no deleted secret comes back", async () => {
    const { store, events } = await slowBackupPair();
    const ids = Array.from({ length: 50 }, () => randomUUID());
    const writes = await Promise.all(
      ids.map((id) => Promise.allSettled([store.storeSecretValues(id, { v: "1" }), store.deleteSecretValues(id)])),
    );
    // Divergences reported by the writes (a get's own report of what it served comes later).
    const reported = new Set(events.map((event) => event.secretId));
    const outcomes = await Promise.all(
      ids.map(async (id, index) => {
        const [stored, deleted] = writes[index] as PromiseSettledResult<void>[];
        const read = await store.getSecretValues(id).then(
          () => "found",
          (error: { code?: string }) => error.code,
        );
        return { id, stored: stored?.status, deleted: deleted?.status, read };
      }),
    );
    // Both acknowledged: the delete came after the store, so the secret must be gone.
    const undone = outcomes.filter(
      (o) => o.stored === "fulfilled" && o.deleted === "fulfilled" && o.read === "found" && !reported.has(o.id),
    );
    expect(outcomes.filter((o) => o.stored === "fulfilled" && o.deleted === "fulfilled").length).toBeGreaterThan(0);
    expect(undone.length, `${undone.length} of 50 deleted secrets readable again`).toBe(0);
  });

  it("item 4: two concurrent updates of one id (backup slower) leave primary and backup equal", async () => {
    const { store, primaryStore, backupStore, events } = await slowBackupPair();
    const ids = Array.from({ length: 50 }, () => randomUUID());
    await Promise.all(ids.map((id) => store.storeSecretValues(id, { v: "0" })));
    await Promise.all(
      ids.map((id) =>
        Promise.all([store.updateSecretValues(id, { v: "1" }), store.updateSecretValues(id, { v: "2" })]),
      ),
    );
    const reported = new Set(events.map((event) => event.secretId));
    let diverged = 0;
    for (const id of ids) {
      const [onPrimary, onBackup] = [await primaryStore.getSecretValues(id), await backupStore.getSecretValues(id)];
      if (JSON.stringify(onPrimary) !== JSON.stringify(onBackup) && !reported.has(id)) diverged += 1;
    }
    expect(diverged, `${diverged} of 50 ids with primary and backup different, unreported`).toBe(0);
  });

  it("a delete whose backup failed: the leftover copy is never served, listed or updated; a store replaces it", async () => {
    const { store, backup, backupStore, events } = await pair();
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    backup.down = true;
    await store.deleteSecretValues(id);
    expect(events.map((event) => [event.kind, event.operation])).toEqual([["backup-write-failed", "delete"]]);
    backup.down = false;
    expect(await backupStore.getSecretValues(id)).toEqual({ v: "1" });
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.updateSecretValues(id, { v: "2" })).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    const listed: string[] = [];
    for await (const listedId of store.listSecretIds()) listed.push(listedId);
    expect(listed).toEqual([]);
    await store.storeSecretValues(id, { v: "3" });
    expect(await backupStore.getSecretValues(id)).toEqual({ v: "3" });
    expect(await store.getSecretValues(id)).toEqual({ v: "3" });
    expect(events).toHaveLength(1);
  });

  it("a store the primary takes ends the memory of a delete: a store during a later outage is not an update", async () => {
    const { store, primary, backup, primaryStore, events } = await pair();
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    backup.down = true;
    await store.deleteSecretValues(id);
    await store.storeSecretValues(id, { v: "2" });
    backup.down = false;
    // The backup still holds v1 (its store of v2 failed; reported); the primary holds v2.
    primary.down = true;
    await expect(store.storeSecretValues(id, { v: "3" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    primary.down = false;
    expect(await primaryStore.getSecretValues(id)).toEqual({ v: "2" });
    expect(events.filter((event) => event.kind === "backup-write-failed")).toHaveLength(2);
  });

  it("a batch read waits for writes in flight: it never sees the create of a store that is then refused", async () => {
    const { primary, backup, backupStore } = await slowBackupPair();
    Object.assign(primary, {
      capabilities: { ...primary.capabilities, batchGet: true, maxBatchSize: 20 },
      async getManySecretValues(ids: readonly string[]) {
        const answers = new Map<string, SecretRead | Error>();
        for (const id of ids) answers.set(id, await primary.getSecretValues(id, {}).catch((error: Error) => error));
        return answers;
      },
    });
    const store = SecretStore.fromAdapter(
      new BackupAdapter(
        { adapter: primary, provider: "memory" },
        { adapter: backup, provider: "memory" },
        { onBackupError: () => {} },
      ),
    );
    const ids = Array.from({ length: 50 }, () => randomUUID());
    // Stored while the primary was down: on the backup alone.
    for (const id of ids) await backupStore.storeSecretValues(id, { only: "backup" });
    const seen = await Promise.all(
      ids.map(async (id) => {
        const refused = store.storeSecretValues(id, { refused: "yes" }).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 2));
        const read = await store.getManySecretValues([id]);
        await refused;
        return read.get(id);
      }),
    );
    expect(seen.filter((result) => result && "values" in result && result.values.refused === "yes")).toEqual([]);
    expect(seen.every((result) => result && "values" in result && result.values.only === "backup")).toBe(true);
  });

  it("two processes: racing updates of one id that leave the sides different are reported", async () => {
    const { primary, backup, primaryStore, backupStore } = await slowBackupPair();
    const events: BackupEvent[] = [];
    const [one, two] = [0, 1].map(() =>
      SecretStore.fromAdapter(
        new BackupAdapter(
          { adapter: primary, provider: "memory" },
          { adapter: backup, provider: "memory" },
          { onBackupError: (event) => events.push(event) },
        ),
      ),
    ) as [SecretStore, SecretStore];
    const ids = Array.from({ length: 50 }, () => randomUUID());
    await Promise.all(ids.map((id) => one.storeSecretValues(id, { v: "0" })));
    await Promise.all(
      ids.map((id) => Promise.all([one.updateSecretValues(id, { v: "1" }), two.updateSecretValues(id, { v: "2" })])),
    );
    const reported = new Set(events.filter((event) => event.kind === "diverged").map((event) => event.secretId));
    let unreported = 0;
    for (const id of ids) {
      const [onPrimary, onBackup] = [await primaryStore.getSecretValues(id), await backupStore.getSecretValues(id)];
      if (JSON.stringify(onPrimary) !== JSON.stringify(onBackup) && !reported.has(id)) unreported += 1;
    }
    expect(unreported).toBe(0);
  });
});
