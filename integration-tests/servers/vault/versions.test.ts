/**
 * Versions through omnisecret on Vault's KV v2 (issue 23), against the harness's OpenBao dev
 * server, whose `secret/` mount keeps 1 version (`max_versions` 1): `keepVersions` above that
 * gives each secret its own `max_versions`. Driven through the adapter, which the facade calls
 * with `{ version }` (see adapters/vault/index.ts, "Versions through omnisecret").
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { requestsChosenBy } from "../../../bench/lib/counters.js";
import type { SecretsAdapter } from "../../../src/index.js";
import {
  readValues as get,
  storeValues as store,
  updateValues as update,
} from "../../../test-support/adapter-calls.js";
import { adapterOpener, serverConfig } from "../../server-config.js";
import { vaultAdmin } from "./admin.js";

const config = serverConfig("vault");

const open = adapterOpener(config, "versions");

/** Requests with the root token, for what an operator (or another tool) does beside omnisecret. */
const admin = vaultAdmin(config);

const versionsOf = (adapter: SecretsAdapter, id: string) => adapter.listSecretVersions?.(id, {}) ?? [];

describe("vault versions (keepVersions)", () => {
  it("says it keeps versions, and knows its tokens by their shape", async () => {
    const { adapter } = await open();
    expect(adapter.capabilities.versions).toBe(true);
    expect(adapter.isVersionToken?.("mhx1k2a3.12")).toBe(true);
    for (const bad of ["", "12", ".12", "abc.", "abc.0", "abc.x1", "abc.-1", "a b.1", `${"a".repeat(130)}.1`]) {
      expect(adapter.isVersionToken?.(bad), bad).toBe(false);
    }
  });

  it("keepVersions 2: A, B, C -> latest C, previous B, A unreadable; rollback -> latest B, previous C", async () => {
    const { adapter } = await open({ keepVersions: 2 });
    const id = randomUUID();
    await store(adapter, id, { v: "A" });
    const [a] = await versionsOf(adapter, id);
    expect(a).toMatchObject({ current: true, readable: true });
    expect(await get(adapter, id, a?.token)).toEqual({ v: "A" });
    await update(adapter, id, { v: "B" });
    await update(adapter, id, { v: "C" });
    expect(await get(adapter, id)).toEqual({ v: "C" });
    expect(await get(adapter, id, "latest")).toEqual({ v: "C" });
    expect(await get(adapter, id, "previous")).toEqual({ v: "B" });
    // A is out of the versions kept: Vault pruned it (the secret's own max_versions is 2).
    await expect(get(adapter, id, a?.token)).rejects.toMatchObject({
      code: "E_SECRET_NOT_FOUND",
      message: expect.stringContaining("pruned"),
    });
    const listed = await versionsOf(adapter, id);
    expect(listed.map((version) => [version.current, version.readable])).toEqual([
      [true, true],
      [false, true],
    ]);
    expect(listed.map((version) => version.token)).not.toContain(a?.token);
    expect(listed[0]?.createdAt.getTime()).toBeGreaterThanOrEqual(listed[1]?.createdAt.getTime() ?? Number.NaN);
    expect(await get(adapter, id, listed[0]?.token)).toEqual({ v: "C" });
    expect(await get(adapter, id, listed[1]?.token)).toEqual({ v: "B" });
    // Rollback, as the facade does it: the previous values become current as a new version.
    await update(adapter, id, await get(adapter, id, "previous"));
    expect(await get(adapter, id)).toEqual({ v: "B" });
    expect(await get(adapter, id, "previous")).toEqual({ v: "C" });
    // The tokens listed before stay what they were: one names C (now previous), the other B (now pruned).
    expect(await get(adapter, id, listed[0]?.token)).toEqual({ v: "C" });
    await expect(get(adapter, id, listed[1]?.token)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
  });

  it("keepVersions 1: today's behaviour, no earlier values readable, the same requests per operation", async () => {
    const { adapter } = await open();
    const id = randomUUID();
    expect(await requestsChosenBy(() => store(adapter, id, { v: "A" }))).toBeLessThanOrEqual(2);
    const first = await versionsOf(adapter, id);
    expect(await requestsChosenBy(() => update(adapter, id, { v: "B" }))).toBe(2);
    expect(await requestsChosenBy(() => get(adapter, id))).toBe(1);
    expect(await get(adapter, id)).toEqual({ v: "B" });
    await expect(get(adapter, id, "previous")).rejects.toMatchObject({
      code: "E_SECRET_NOT_FOUND",
      message: expect.stringContaining("not kept"),
    });
    await expect(get(adapter, id, first[0]?.token)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    expect((await versionsOf(adapter, id)).map((version) => version.readable)).toEqual([true]);
    expect(await requestsChosenBy(() => adapter.deleteSecretValues(id, {}))).toBe(3);
  });

  it('"previous" after a single store: not found, saying there is none', async () => {
    const { adapter } = await open({ keepVersions: 3 });
    const id = randomUUID();
    await store(adapter, id, { v: "only" });
    await expect(get(adapter, id, "previous")).rejects.toMatchObject({
      code: "E_SECRET_NOT_FOUND",
      message: expect.stringContaining("has no previous version"),
    });
  });

  it("a delete removes every version, and a store of the id again starts a fresh history: old tokens are not found", async () => {
    const { adapter } = await open({ keepVersions: 3 });
    const id = randomUUID();
    await store(adapter, id, { v: "old-1" });
    await update(adapter, id, { v: "old-2" });
    const old = await versionsOf(adapter, id);
    expect(old).toHaveLength(2);
    await adapter.deleteSecretValues(id, {});
    await expect(versionsOf(adapter, id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(get(adapter, id, "previous")).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    for (const version of old) {
      await expect(get(adapter, id, version.token)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    }
    await store(adapter, id, { v: "new-1" });
    await update(adapter, id, { v: "new-2" });
    await update(adapter, id, { v: "new-3" });
    // The metadata outlived the delete (the tombstone design), so the new versions follow the old
    // numbers: none of the old tokens may name one of them.
    for (const version of old) {
      await expect(get(adapter, id, version.token)).rejects.toMatchObject({
        code: "E_SECRET_NOT_FOUND",
        message: expect.stringContaining("gone"),
      });
    }
    const fresh = await versionsOf(adapter, id);
    // Only the new secret's versions: neither the old ones nor the destroyed tombstone between them.
    expect(fresh).toHaveLength(3);
    expect(await Promise.all(fresh.map((version) => get(adapter, id, version.token)))).toEqual([
      { v: "new-3" },
      { v: "new-2" },
      { v: "new-1" },
    ]);
    for (const version of fresh) expect(old.map((o) => o.token)).not.toContain(version.token);
    // Back to the first new version: its previous is not the deleted secret's.
    const deleteAgain = randomUUID();
    await store(adapter, deleteAgain, { v: "x" });
    await adapter.deleteSecretValues(deleteAgain, {});
    await store(adapter, deleteAgain, { v: "y" });
    await expect(get(adapter, deleteAgain, "previous")).rejects.toMatchObject({
      code: "E_SECRET_NOT_FOUND",
      message: expect.stringContaining("has no previous version"),
    });
    expect(await versionsOf(adapter, deleteAgain)).toHaveLength(1);
  });

  it("an old token does not read the new secret's versions after the metadata was removed outside omnisecret", async () => {
    const { adapter, prefix } = await open({ keepVersions: 2 });
    const id = randomUUID();
    await store(adapter, id, { v: "before" });
    const [before] = await versionsOf(adapter, id);
    const metadataPath = `secret/metadata/${prefix}/default/${id}`;
    const created = Date.parse((await admin("GET", metadataPath)).body.data.created_time);
    // OpenBao's created_time has whole seconds: metadata made again within the same second looks
    // the same (the limit the adapter's opening comment states), so this waits for the next one.
    while (Date.now() < created + 1000) await sleep(50);
    // DELETE on the metadata (an operator's `bao kv metadata delete`) restarts the version numbers.
    expect((await admin("DELETE", metadataPath)).status).toBe(204);
    await store(adapter, id, { v: "after" });
    const [after] = await versionsOf(adapter, id);
    expect(after?.token).not.toBe(before?.token);
    await expect(get(adapter, id, before?.token)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    expect(await get(adapter, id, after?.token)).toEqual({ v: "after" });
  });

  it("on a mount keeping more than keepVersions, only the latest keepVersions are readable through omnisecret", async () => {
    const mount = `kv-${randomUUID().slice(0, 8)}`;
    expect((await admin("POST", `sys/mounts/${mount}`, { type: "kv", options: { version: "2" } })).status).toBe(204);
    // A new KV v2 mount finishes its setup in the background; writes fail until it has.
    const writable = async () => (await admin("POST", `${mount}/data/ready-probe`, { data: {} })).status === 200;
    for (let attempt = 0; !(await writable()); attempt += 1) {
      if (attempt > 50) throw new Error(`mount ${mount} never became writable`);
      await sleep(100);
    }
    expect((await admin("POST", `${mount}/config`, { max_versions: 5 })).status).toBe(204);
    const { adapter, prefix } = await open({ mount, keepVersions: 2 });
    const id = randomUUID();
    await store(adapter, id, { v: "1" });
    for (const v of ["2", "3", "4"]) await update(adapter, id, { v });
    const listed = await versionsOf(adapter, id);
    expect(listed.map((version) => version.readable)).toEqual([true, true, false, false]);
    await expect(get(adapter, id, listed[2]?.token)).rejects.toMatchObject({
      code: "E_SECRET_NOT_FOUND",
      message: expect.stringContaining("pruned"),
    });
    // What stays in Vault: the mount's max_versions, all readable there.
    const inVault = await admin("GET", `${mount}/data/${prefix}/default/${id}?version=1`);
    expect(inVault.body.data.data).toEqual({ v: "1" });
    await adapter.deleteSecretValues(id, {});
    for (const version of [1, 2, 3, 4]) {
      const read = await admin("GET", `${mount}/data/${prefix}/default/${id}?version=${version}`);
      expect(read.body?.data?.data ?? null, `version ${version} after the delete`).toBeNull();
    }
  });

  it("a version deleted in Vault is listed unreadable and reads as gone", async () => {
    const { adapter, prefix } = await open({ keepVersions: 3 });
    const id = randomUUID();
    await store(adapter, id, { v: "1" });
    await update(adapter, id, { v: "2" });
    await update(adapter, id, { v: "3" });
    expect((await admin("POST", `secret/delete/${prefix}/default/${id}`, { versions: [2] })).status).toBe(204);
    const listed = await versionsOf(adapter, id);
    expect(listed.map((version) => version.readable)).toEqual([true, false, true]);
    await expect(get(adapter, id, "previous")).rejects.toMatchObject({
      code: "E_SECRET_NOT_FOUND",
      message: expect.stringContaining("deleted or destroyed in Vault"),
    });
    expect(await get(adapter, id, listed[2]?.token)).toEqual({ v: "1" });
  });

  it("a tombstone left readable (a delete that died before destroying it): no versions, no previous", async () => {
    const { adapter, prefix } = await open({ keepVersions: 3 });
    const id = randomUUID();
    await store(adapter, id, { v: "1" });
    await update(adapter, id, { v: "2" });
    const [latest] = await versionsOf(adapter, id);
    const path = `secret/data/${prefix}/default/${id}`;
    expect((await admin("POST", path, { data: { "": "omnisecret:deleted" }, options: { cas: 2 } })).status).toBe(200);
    await expect(versionsOf(adapter, id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(get(adapter, id, "previous")).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(get(adapter, id, latest?.token)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
  });

  it("refuses a token that is not one of Vault's before any request", async () => {
    const { adapter } = await open({ keepVersions: 2 });
    const id = randomUUID();
    await store(adapter, id, { v: "1" });
    expect(
      await requestsChosenBy(() =>
        expect(get(adapter, id, "not-a-token")).rejects.toMatchObject({ code: "E_INVALID_VERSION" }),
      ),
    ).toBe(0);
  });
});
