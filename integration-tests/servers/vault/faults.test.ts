/**
 * The Vault adapter through the fault proxy (see integration-tests/fault-suite.ts), and the
 * store outcomes of issue 12, item 4: a store whose answer is lost, and a store whose second
 * write (the metadata, on a mount that does not keep `keepVersions` itself, or the marks of
 * `verifyOwnership`) fails.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SecretStore } from "../../../src/index.js";
import { faultProxyOpener, testFaultsOnServer } from "../../fault-suite.js";
import { startServer } from "../../harness/index.js";
import { freePort } from "../../harness/process.js";
import { serverConfig } from "../../server-config.js";
import { vaultAdmin } from "./admin.js";

const config = serverConfig("vault");

let privatePort: number | undefined;
testFaultsOnServer("vault", config, {
  async startPrivateServer() {
    privatePort ??= await freePort();
    const { OMNISECRET_TEST_VAULT_ADDR: _external, ...env } = process.env;
    return startServer("vault", { env: { ...env, OMNISECRET_TEST_VAULT_PORT: String(privatePort) } });
  },
});

/** A read with the server's root token, as an operator would send it: the answer's body. */
const rootRequest = vaultAdmin(config);
const admin = async (path: string) => (await rootRequest("GET", path)).body;

describe("vault store when the network fails between its requests (issue 12, item 4)", () => {
  const open = faultProxyOpener("vault", config, "item4");

  it("succeeds when the answer to its write is lost and the retry meets the version it made", async () => {
    const { proxy, store } = await open();
    // The adapter reads the mount's config beside its first write; done here, so the answer lost is the write's.
    await store.storeSecretValues(randomUUID(), { warm: "up" });
    const id = randomUUID();
    proxy.set({ kind: "lose-response", times: 1 });
    await store.storeSecretValues(id, { user: "admin", password: "first" });
    expect(proxy.lostResponses).toBe(1);
    expect(await store.getSecretValues(id)).toEqual({ user: "admin", password: "first" });
  });

  it("still refuses an id someone else stored, when its own answer was lost", async () => {
    const { proxy, store } = await open();
    const id = randomUUID();
    await store.storeSecretValues(id, { owner: "first" });
    proxy.set({ kind: "lose-response", times: 1 });
    await expect(store.storeSecretValues(id, { owner: "second" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    expect(await store.getSecretValues(id)).toEqual({ owner: "first" });
  });

  it("reports stored when its metadata write fails after the values were written; the next update writes the metadata", async () => {
    // keepVersions 3 on a mount keeping fewer: each store writes the secret's own max_versions.
    const { proxy, store } = await open({ keepVersions: 3 });
    // The adapter reads the mount's config at its first write; done here, before the fault.
    await store.storeSecretValues(randomUUID(), { warm: "up" });
    const id = randomUUID();
    // The data write is answered; every request after it is reset.
    proxy.set({ kind: "reset" }, { afterAnswers: 1 });
    await store.storeSecretValues(id, { v: "1" });
    proxy.pass();
    expect(await store.getSecretValues(id)).toEqual({ v: "1" });
    const path = `secret/metadata/${store.prefix}/default/${id}`;
    expect((await admin(path)).data.custom_metadata?.["omnisecret-id"]).toBeUndefined();

    await store.updateSecretValues(id, { v: "2" });
    const metadata = (await admin(path)).data;
    expect(metadata.max_versions).toBe(3);
    expect(metadata.custom_metadata).toMatchObject({ "managed-by": "omnisecret", "omnisecret-id": id });
    expect(Object.keys(metadata.versions)).toEqual(["1", "2"]);
    expect(await store.getSecretValues(id)).toEqual({ v: "2" });
  });

  async function listAll(store: SecretStore): Promise<string[]> {
    const ids: string[] = [];
    for await (const id of store.listSecretIds()) ids.push(id);
    return ids;
  }

  it("a delete whose tombstone could not be destroyed succeeds; its own list omits the id, others list it until a delete or list of this adapter finishes it (issue 21)", async () => {
    const { proxy, store } = await open();
    // The adapter reads the mount's config at its first write; done here, before the fault.
    const warm = randomUUID();
    await store.storeSecretValues(warm, { warm: "up" });
    await store.deleteSecretValues(warm);
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    // The read and the tombstone are answered; the destroy of the tombstone's version is reset, each attempt.
    proxy.set({ kind: "reset" }, { afterAnswers: 2 });
    await store.deleteSecretValues(id);
    proxy.pass();
    const other = await SecretStore.create({ ...config, prefix: store.prefix });
    try {
      await expect(other.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      const path = `secret/metadata/${store.prefix}/default/${id}`;
      expect((await admin(path)).data.versions["2"]).toMatchObject({ destroyed: false });
      // Another process sees a leftover: listed, not readable (documented).
      expect(await listAll(other)).toEqual([id]);
      // This adapter remembers the id: its list reads it, and destroys the tombstone.
      expect(await listAll(store)).toEqual([]);
      expect((await admin(path)).data.versions["2"]).toMatchObject({ destroyed: true });
      expect(await listAll(other)).toEqual([]);

      // The same fault again; this time another process's delete finishes it.
      const second = randomUUID();
      await store.storeSecretValues(second, { v: "1" });
      proxy.set({ kind: "reset" }, { afterAnswers: 2 });
      await store.deleteSecretValues(second);
      proxy.pass();
      expect(await listAll(other)).toEqual([second]);
      await expect(other.deleteSecretValues(second)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      expect(await listAll(other)).toEqual([]);
      expect(await listAll(store)).toEqual([]);
      // Stored again: listed everywhere.
      await other.storeSecretValues(second, { v: "2" });
      expect(await listAll(store)).toEqual([second]);
      expect(await store.getSecretValues(second)).toEqual({ v: "2" });
    } finally {
      await other.close();
    }
  });

  it("with verifyOwnership, fails when its marks could not be written; storing the same values again finishes it", async () => {
    const { proxy, store } = await open({ verifyOwnership: true });
    const id = randomUUID();
    proxy.set({ kind: "reset" }, { afterAnswers: 1 });
    await expect(store.storeSecretValues(id, { v: "1" })).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    proxy.pass();
    // Written but not marked: not this owner's yet, so not found, and other values are refused.
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.storeSecretValues(id, { v: "other" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    await store.storeSecretValues(id, { v: "1" });
    expect(await store.getSecretValues(id)).toEqual({ v: "1" });
    expect((await admin(`secret/metadata/${store.prefix}/default/${id}`)).data.custom_metadata).toMatchObject({
      "omnisecret-owner": "default",
      "omnisecret-id": id,
    });
  });
});
