import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MemoryAdapter } from "../adapters/memory/index.js";
import { overrideAdapter } from "../test-support/adapter-overrides.js";
import type { AnySecretsAdapter, SecretsAdapter } from "./contract.js";
import { PermissionDeniedError } from "./errors.js";
import { SecretStore } from "./secret-store.js";
import { withFaults } from "./testing/faults.js";
import { probeReads } from "./testing/watch-probe.js";

const memory = () => new MemoryAdapter({ maxValueBytes: 65_536 });

/**
 * A store on `adapter` seen through a read probe, one secret in it (`{ v: "1" }`) and a watch of
 * it polling every 5 ms, whose first event is asked for at once.
 */
async function watching(adapter: AnySecretsAdapter) {
  const probe = probeReads(adapter);
  const store = SecretStore.fromAdapter(probe.adapter);
  const id = randomUUID();
  await store.storeSecretValues(id, { v: "1" });
  const changes = store.watch([id], { intervalMs: 5 });
  return { probe, store, id, changes, first: changes.next() };
}

describe("SecretStore.watch", () => {
  it("with revisions: a write of the same values is no event; the values are read only once the revision moved", async () => {
    const { probe, store, id, first } = await watching(memory());
    // The baseline: the revision and the values.
    await probe.untilAnswered(2);
    await store.updateSecretValues(id, { v: "1" });
    // The poll that sees the revision moved: its revision, then the read of the values.
    await probe.untilAnswered(4);
    await store.updateSecretValues(id, { v: "2" });
    expect(await first).toEqual({ done: false, value: { id, kind: "changed", values: { v: "2" } } });
    await store.close();
  });

  it("without revisions: polls read the values; an unavailable provider is looked at again next poll", async () => {
    const faulty = withFaults(memory());
    expect(faulty.capabilities.revision).toBeUndefined();
    const { probe, store, id, first } = await watching(faulty);
    await probe.untilAnswered(1);
    faulty.down = true;
    await probe.untilAnswered(3);
    faulty.down = false;
    await store.updateSecretValues(id, { v: "2" });
    expect(await first).toEqual({ done: false, value: { id, kind: "changed", values: { v: "2" } } });
    await store.close();
  });

  /** A memory adapter whose revision requests, or gets, the test can make refuse. */
  function refusing() {
    const refuse = { revision: false, get: false };
    const adapter = overrideAdapter(memory(), (inner) => ({
      getSecretRevision: (id, options) =>
        refuse.revision
          ? Promise.reject(new PermissionDeniedError(id))
          : (inner.getSecretRevision as NonNullable<SecretsAdapter["getSecretRevision"]>)(id, options),
      getSecretValues: (id, options) =>
        refuse.get ? Promise.reject(new PermissionDeniedError(id)) : inner.getSecretValues(id, options),
    }));
    return { adapter, refuse };
  }

  it("reads values instead when the revision request is refused (a role without metadata access)", async () => {
    const { adapter, refuse } = refusing();
    const { probe, store, id, first } = await watching(adapter);
    await probe.untilAnswered(2);
    refuse.revision = true;
    // The refused revision, then the values read in its place.
    await probe.untilAnswered(4);
    await store.updateSecretValues(id, { v: "2" });
    expect(await first).toEqual({ done: false, value: { id, kind: "changed", values: { v: "2" } } });
    await store.close();
  });

  it("ends with any other failure of a poll, thrown by the iterator", async () => {
    const { adapter, refuse } = refusing();
    const { probe, store, id, changes, first } = await watching(adapter);
    await probe.untilAnswered(2);
    refuse.get = true;
    await store.updateSecretValues(id, { v: "2" });
    await expect(first).rejects.toMatchObject({ code: "E_PERMISSION_DENIED", secretId: id });
    expect(await changes.next()).toEqual({ done: true, value: undefined });
    await store.close();
  });

  it("since: the first poll, at once, compares with the caller's values, and yields only what differs", async () => {
    const probe = probeReads(memory());
    const store = SecretStore.fromAdapter(probe.adapter);
    const [same, moved, appeared, gone] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await store.storeSecretValues(same, { v: "1" });
    await store.storeSecretValues(moved, { v: "1" });
    await store.storeSecretValues(gone, { v: "1" });
    // What the caller read; then writes land before the watch starts.
    const since = new Map([
      [same, { v: "1" }],
      [moved, { v: "1" }],
      [gone, { v: "1" }],
    ]);
    await store.updateSecretValues(moved, { v: "2" });
    await store.storeSecretValues(appeared, { v: "new" });
    await store.deleteSecretValues(gone);
    const changes = store.watch([same, moved, appeared, gone], { intervalMs: 3_600_000, since });
    since.clear(); // copied at the call
    expect(await changes.next()).toEqual({ done: false, value: { id: moved, kind: "changed", values: { v: "2" } } });
    expect(await changes.next()).toEqual({
      done: false,
      value: { id: appeared, kind: "created", values: { v: "new" } },
    });
    expect(await changes.next()).toEqual({ done: false, value: { id: gone, kind: "deleted" } });
    // Four revisions, then the values of the three that exist: nothing more before the next poll.
    expect(probe.answered()).toBe(7);
    await store.close();
    expect(await changes.next()).toEqual({ done: true, value: undefined });
  });

  it("onError hears of each unavailable poll the watch outlives", async () => {
    const faulty = withFaults(memory());
    const probe = probeReads(faulty);
    const store = SecretStore.fromAdapter(probe.adapter);
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    const heard: string[] = [];
    const changes = store.watch([id], {
      intervalMs: 5,
      since: new Map([[id, { v: "1" }]]),
      onError: (error) => heard.push(`${error.code} ${error.secretId}`),
    });
    const first = changes.next();
    await probe.untilAnswered(1);
    faulty.down = true;
    // Three failed reads: the third starts only after the second's poll has ended.
    await probe.untilAnswered(4);
    faulty.down = false;
    expect(heard.slice(0, 2)).toEqual([`E_PROVIDER_UNAVAILABLE ${id}`, `E_PROVIDER_UNAVAILABLE ${id}`]);
    await store.updateSecretValues(id, { v: "2" });
    expect(await first).toEqual({ done: false, value: { id, kind: "changed", values: { v: "2" } } });
    await store.close();
  });

  it("refuses bad ids and options at the call, before any request", () => {
    const probe = probeReads(memory());
    const store = SecretStore.fromAdapter(probe.adapter);
    expect(() => store.watch(["not-a-uuid"])).toThrow(expect.objectContaining({ code: "E_INVALID_SECRET_ID" }));
    expect(() => store.watch([randomUUID()], { intervalMs: 0 })).toThrow(expect.objectContaining({ code: "E_CONFIG" }));
    expect(() => store.watch([randomUUID()], { concurrency: 1.5 })).toThrow(
      expect.objectContaining({ code: "E_CONFIG" }),
    );
    expect(probe.answered()).toBe(0);
  });
});
