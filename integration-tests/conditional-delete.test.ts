/**
 * Issue 20, item 5: a source is deleted only if it still holds what was copied
 * (`deleteSecretValues(id, { expectedValues })`). On Vault the tombstone's check-and-set makes it
 * atomic; on aws, gcp and azure the facade reads, compares and deletes, and this file measures the
 * window that leaves: how long from the read's answer to the delete's, and how often an update
 * racing the delete is acknowledged and then deleted with it.
 *
 * The providers are those whose servers the harness started (OMNISECRET_TEST_SERVERS, or all).
 */
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { SecretStore } from "../src/index.js";
import { requestedProviders } from "./harness/index.js";
import { serverConfig } from "./server-config.js";

const ROUNDS = 30;
const stores: SecretStore[] = [];
afterAll(async () => {
  for (const store of stores) await store.close().catch(() => undefined);
});

const served = requestedProviders();

describe.each(served)("conditional delete on %s", (provider) => {
  async function open(): Promise<SecretStore> {
    const store = await SecretStore.create({ ...serverConfig(provider), prefix: `cd-${randomUUID().slice(0, 8)}` });
    stores.push(store);
    return store;
  }

  it("deletes only a secret holding exactly the expected values; else E_SECRET_CHANGED and it stays", async () => {
    const store = await open();
    const id = randomUUID();
    await store.storeSecretValues(id, { a: "1" });
    await expect(store.deleteSecretValues(id, { expectedValues: { a: "2" } })).rejects.toMatchObject({
      code: "E_SECRET_CHANGED",
    });
    expect(await store.getSecretValues(id)).toEqual({ a: "1" });
    await store.deleteSecretValues(id, { expectedValues: { a: "1" } });
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.deleteSecretValues(id, { expectedValues: { a: "1" } })).rejects.toMatchObject({
      code: "E_SECRET_NOT_FOUND",
    });
  });

  it("an update racing a conditional delete: never both refused; measured how often both are acknowledged", async () => {
    const store = await open();
    const atomic = provider === "vault";
    let bothAcknowledged = 0;
    const windows: number[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const id = randomUUID();
      await store.storeSecretValues(id, { v: "copied" });
      const started = performance.now();
      const [update, remove] = await Promise.allSettled([
        store.updateSecretValues(id, { v: "newer" }),
        store.deleteSecretValues(id, { expectedValues: { v: "copied" } }),
      ]);
      windows.push(performance.now() - started);
      const code = (result: PromiseSettledResult<void>) =>
        result.status === "fulfilled" ? "ok" : (result.reason as { code?: string }).code;
      const outcome = `${code(update)}/${code(remove)}`;
      // Update first: the delete finds other values. Delete first: the update finds nothing.
      expect(["ok/E_SECRET_CHANGED", "E_SECRET_NOT_FOUND/ok", "ok/ok"], outcome).toContain(outcome);
      if (outcome === "ok/ok") bothAcknowledged += 1;
      const after = await store.getSecretValues(id).catch((error: { code?: string }) => error.code);
      if (remove.status === "fulfilled") expect(after).toBe("E_SECRET_NOT_FOUND");
      else {
        expect(after).toEqual({ v: "newer" });
        await store.deleteSecretValues(id);
      }
    }
    // The window's upper bound: an uncontended conditional delete from its start (the read) to its end.
    const alone: number[] = [];
    for (let round = 0; round < 10; round += 1) {
      const id = randomUUID();
      await store.storeSecretValues(id, { v: "copied" });
      const started = performance.now();
      await store.deleteSecretValues(id, { expectedValues: { v: "copied" } });
      alone.push(performance.now() - started);
    }
    const median = (list: number[]) => list.sort((a, b) => a - b)[Math.floor(list.length / 2)]?.toFixed(1);
    console.log(
      `${provider}: an update sent with a conditional delete, ${ROUNDS} rounds: both acknowledged (the update deleted) ${bothAcknowledged}; median race ${median(windows)} ms; an uncontended conditional delete ${median(alone)} ms`,
    );
    if (atomic) expect(bothAcknowledged).toBe(0);
  });
});
