/**
 * Issue 15: 1,000 secrets migrated from the local store to every server provider and back, with
 * a fault halfway through each direction, then run again: nothing lost, nothing twice. Forward,
 * the server becomes unreachable (the fault proxy resets every connection) after half of the
 * secrets; backward, the run is aborted with its AbortSignal. Also: a dry run changes nothing,
 * and a foreign secret in the target is never overwritten.
 *
 * The providers are those whose servers the harness started (OMNISECRET_TEST_SERVERS, or all).
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { type CopySummary, copySecrets, type SecretStore, type SecretValues } from "../src/index.js";
import { SecretStore as Store } from "../src/secret-store.js";
import { FaultProxy } from "./harness/fault-proxy.js";
import { requestedProviders } from "./harness/index.js";
import { serverConfig } from "./server-config.js";
import { providerTestSides, serverEndpoint } from "./servers/index.js";

const COUNT = 1_000;
const CONCURRENCY = 16;
const directory = mkdtempSync(join(tmpdir(), "omnisecret-migrate-"));

/** Short limits, so that a fault ends fast. */
const SHORT_LIMITS = { requestTimeoutMs: 2_000, operationTimeoutMs: 5_000, maxAttempts: 2 };
const limits: Record<string, Record<string, number>> = {
  aws: SHORT_LIMITS,
  vault: SHORT_LIMITS,
  gcp: SHORT_LIMITS,
  azure: { requestTimeoutMs: 2_000, maxAttempts: 2 },
};

const opened: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const item of opened) await item.close().catch(() => undefined);
});

async function open(config: Record<string, unknown>): Promise<SecretStore> {
  const store = await Store.create(config);
  opened.push(store);
  return store;
}

async function contents(store: SecretStore): Promise<{ ids: string[]; values: Map<string, SecretValues> }> {
  const ids: string[] = [];
  for await (const id of store.listSecretIds()) ids.push(id);
  const values = new Map<string, SecretValues>();
  const results = await store.getManySecretValues(ids, { concurrency: CONCURRENCY });
  for (const [id, result] of results) {
    if ("error" in result) throw result.error;
    values.set(id, result.values);
  }
  return { ids, values };
}

/** Runs `operation` again while the provider is still unavailable after a fault (gRPC backs off before reconnecting). */
async function onceAvailable<T>(operation: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await operation();
    } catch (error) {
      if ((error as { code?: unknown }).code !== "E_PROVIDER_UNAVAILABLE" || Date.now() > deadline) throw error;
      await sleep(250);
    }
  }
}

const serverProviders = providerTestSides
  .filter((side) => side.server !== undefined && requestedProviders().includes(side.provider))
  .map((side) => side.provider);

describe.each(serverProviders)("migrate 1,000 secrets local <-> %s", (provider) => {
  const config = serverConfig(provider);
  const endpoint = serverEndpoint(provider);

  it("forward with the server cut off halfway, back with an abort halfway; the reruns complete, nothing lost or doubled", async () => {
    const started = performance.now();
    const local = await open({ provider: "local", path: join(directory, `${provider}-${randomUUID()}.db`) });
    const prefix = `mig-${randomUUID().slice(0, 8)}`;
    const proxy = await FaultProxy.start(endpoint.of(config));
    opened.push(proxy);
    const remoteConfig = { ...endpoint.through(config, proxy.port), ...limits[provider], prefix };
    let remote = await open(remoteConfig);
    const written = new Map<string, SecretValues>();
    for (let index = 0; index < COUNT; index += 1) {
      const id = randomUUID();
      const values = { index: String(index), password: `p-${randomUUID()}`, note: "#=ü" };
      written.set(id, values);
    }
    for (const [id, values] of written) await local.storeSecretValues(id, values);

    // Forward: the server becomes unreachable after half of the secrets.
    let cut = false;
    // The operator stops the run soon after the cut: the copies under way meet it, the rest never start.
    const stopAfterCut = new AbortController();
    const first = await copySecrets(local, remote, {
      concurrency: CONCURRENCY,
      deleteSource: true,
      signal: stopAfterCut.signal,
      onProgress: ({ done, failed }) => {
        if (!cut && done >= COUNT / 2) {
          cut = true;
          proxy.set({ kind: "reset" });
        }
        if (cut && failed >= CONCURRENCY / 2) stopAfterCut.abort();
      },
    });
    const forwardFaultMs = performance.now() - started;
    expect(first.failed.length, "the cut made some copies fail").toBeGreaterThan(0);
    expect(new Set(first.failed.map((failure) => failure.code))).toEqual(new Set(["E_PROVIDER_UNAVAILABLE"]));
    expect(first.copied.length).toBeGreaterThanOrEqual(COUNT / 2);
    expect(first.copied.length + first.failed.length).toBeLessThan(COUNT);
    proxy.pass();
    // A rerun is a new process: a new client, not one still backing off from the cut (gRPC does),
    // and with the default time limits: the short ones above only make the cut fail fast, and a
    // loaded machine (three Node versions in one CI run) must not fail a rerun that meets no fault.
    await remote.close();
    remote = await open({ ...endpoint.through(config, proxy.port), prefix });
    // Only a list: on GCP a store cut between its two requests leaves a secret without a value,
    // which another process lists but cannot read until the rerun stores its id again.
    await onceAvailable(async () => {
      for await (const _ of remote.listSecretIds()) break;
    });

    const second = await copySecrets(local, remote, { concurrency: CONCURRENCY, deleteSource: true });
    expect(second.failed).toEqual([]);
    expect(second.total).toBe(COUNT - first.deleted);
    const afterForward = await contents(remote);
    expect(afterForward.ids.length, "each id listed once").toBe(new Set(afterForward.ids).size);
    expect(afterForward.values).toEqual(written);
    expect((await contents(local)).ids).toEqual([]);
    const forwardMs = performance.now() - started;

    // Back: the run is aborted halfway, then run again.
    const controller = new AbortController();
    const third = await copySecrets(remote, local, {
      concurrency: CONCURRENCY,
      deleteSource: true,
      signal: controller.signal,
      onProgress: ({ done }) => {
        if (done >= COUNT / 2) controller.abort();
      },
    });
    expect(third.aborted).toBe(true);
    expect(third.copied.length).toBeLessThan(COUNT);
    const fourth: CopySummary = await copySecrets(remote, local, { concurrency: CONCURRENCY, deleteSource: true });
    expect(fourth).toMatchObject({ failed: [], aborted: false });
    expect(third.copied.length + fourth.copied.length).toBe(COUNT);
    const back = await contents(local);
    expect(back.ids.length).toBe(COUNT);
    expect(back.values).toEqual(written);
    expect((await contents(remote)).ids).toEqual([]);
    const totalMs = performance.now() - started;
    console.log(
      `[migrate] ${provider}: ${COUNT} secrets, concurrency ${CONCURRENCY}: forward with the cut ${Math.round(forwardFaultMs)} ms, forward done ${Math.round(forwardMs)} ms, total (back with the abort included) ${Math.round(totalMs)} ms`,
    );
  }, 240_000);

  it("a dry run changes nothing, and a foreign secret in the target is never overwritten", async () => {
    const local = await open({ provider: "local", path: join(directory, `${provider}-${randomUUID()}.db`) });
    const prefix = `mig-${randomUUID().slice(0, 8)}`;
    const remote = await open({ ...config, prefix });
    const [mine, theirs] = [randomUUID(), randomUUID()];
    await local.storeSecretValues(mine, { v: "mine" });
    await local.storeSecretValues(theirs, { v: "local copy" });
    // Someone else's secret of the same id, with other values.
    const other = await open({ ...config, prefix });
    await other.storeSecretValues(theirs, { v: "someone else's" });

    const dry = await copySecrets(local, remote, { dryRun: true, deleteSource: true });
    expect(dry.copied).toEqual([mine]);
    expect(dry.failed).toEqual([expect.objectContaining({ id: theirs, code: "E_SECRET_EXISTS" })]);
    expect((await contents(remote)).ids).toEqual([theirs]);
    expect((await contents(local)).ids.sort()).toEqual([mine, theirs].sort());

    const run = await copySecrets(local, remote, { deleteSource: true });
    expect(run.copied).toEqual([mine]);
    expect(run.failed).toEqual([expect.objectContaining({ id: theirs, code: "E_SECRET_EXISTS" })]);
    expect(await other.getSecretValues(theirs)).toEqual({ v: "someone else's" });
    expect(await local.getSecretValues(theirs)).toEqual({ v: "local copy" });

    if ("owner" in (await ownerProbe(provider))) {
      // The owner is part of the provider-native name: another owner's secret of the same id is
      // another secret. The copy lands under this owner's name; theirs is neither read nor replaced.
      const ownerPrefix = `mig-${randomUUID().slice(0, 8)}`;
      const foreignStore = await open({ ...config, prefix: ownerPrefix, owner: "someone-else" });
      const ownStore = await open({ ...config, prefix: ownerPrefix, owner: "migrator" });
      const source = await open({ provider: "local", path: join(directory, `${provider}-${randomUUID()}.db`) });
      const id = randomUUID();
      await foreignStore.storeSecretValues(id, { v: "foreign" });
      await source.storeSecretValues(id, { v: "mine" });
      const replace = await copySecrets(source, ownStore, { overwrite: "replace", deleteSource: true });
      expect(replace.copied).toEqual([id]);
      expect(await ownStore.getSecretValues(id)).toEqual({ v: "mine" });
      expect(await foreignStore.getSecretValues(id)).toEqual({ v: "foreign" });
      await expect(source.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    }
  }, 60_000);
});

/** The provider's options, to see whether it has an `owner` (aws, gcp, azure and vault do). */
async function ownerProbe(provider: string): Promise<Record<string, unknown>> {
  const { resolveConfig } = await import("../src/config.js");
  const { config } = await resolveConfig({ ...serverConfig(provider), provider });
  return config;
}
