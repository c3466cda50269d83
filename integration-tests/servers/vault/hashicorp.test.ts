/**
 * The Vault adapter against HashiCorp Vault 1.14.8 (its last MPL release), which has no
 * `detailed-metadata`: the contract suite, and list by its fallback (LIST of the metadata, a read
 * per key), counted on the wire. Opt-in: with OMNISECRET_TEST_VAULT_HASHICORP=1 the harness
 * builds the server (install-hashicorp.sh; minutes the first time) and starts it on a free port
 * (OMNISECRET_TEST_VAULT_HASHICORP_PORT fixes one). Without the variable vitest.config.ts does
 * not collect this file (and the describe below skips it, if run by other means); with it, a
 * server that did not start fails every test here.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isServerFault, recordRequests, requestLog } from "../../../bench/lib/counters.js";
import type { SecretStore } from "../../../src/index.js";
import { serverConfig, storeOpener, testContractOnServer } from "../../server-config.js";
import { hashicorpVaultServer } from "./server.js";

const optedIn = Boolean(process.env[hashicorpVaultServer.enabledBy as string]);
const freshName = (kind: string) => `${kind}-${randomUUID().slice(0, 8)}`;

describe.skipIf(!optedIn)("vault adapter against HashiCorp Vault 1.14.8", () => {
  // Throws (failing the file) when opted in but the harness did not start the server.
  const config = optedIn ? serverConfig(hashicorpVaultServer.provider) : {};
  const address = config.address as string;

  // biome-ignore lint/suspicious/noExplicitAny: Vault's JSON answers, read field by field below
  async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const response = await fetch(`${address}/v1/${path}`, {
      method,
      headers: { "X-Vault-Token": config.token as string, "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  async function listAll(store: SecretStore): Promise<string[]> {
    const ids: string[] = [];
    for await (const id of store.listSecretIds()) ids.push(id);
    return ids.sort();
  }

  /** The ids listed and the requests the list sent, counted on the wire. */
  async function listWithRequests(store: SecretStore): Promise<{ ids: string[]; sent: string[] }> {
    recordRequests();
    const ids = await listAll(store);
    return { ids, sent: requestLog().filter((request) => !isServerFault(request)) };
  }

  it("is HashiCorp Vault 1.14.8, and answers LIST of detailed-metadata as the adapter expects (404, 'Invalid path' warning)", async () => {
    const health = await admin("GET", "sys/health");
    expect(health.body.version).toBe("1.14.8");
    const prefix = freshName("probe");
    expect((await admin("POST", `secret/data/${prefix}/default/${randomUUID()}`, { data: { a: "1" } })).status).toBe(
      200,
    );
    const detailed = await admin("LIST", `secret/detailed-metadata/${prefix}/default/?limit=1000`);
    expect(detailed.status).toBe(404);
    expect(detailed.body.errors ?? []).toEqual([]);
    expect(detailed.body.warnings).toEqual([
      expect.stringMatching(/^Invalid path for a versioned K\/V secrets engine/),
    ]);
    // An empty folder answers the same: the answer is the endpoint's, not the folder's.
    const empty = await admin("LIST", `secret/detailed-metadata/${freshName("empty")}/?limit=1000`);
    expect(empty.status).toBe(404);
    expect(empty.body.warnings).toEqual([expect.stringMatching(/^Invalid path for a versioned K\/V secrets engine/)]);
  });

  testContractOnServer("vault (HashiCorp Vault 1.14.8)", config);

  describe("list by the fallback", () => {
    const open = storeOpener(config, () => freshName("it"));

    it("store 6, delete 2: lists exactly the 4 live ids; first list 1 detailed LIST + 1 LIST + 6 reads, then 1 + 6", async () => {
      const store = await open();
      const ids = Array.from({ length: 6 }, () => randomUUID());
      for (const id of ids) await store.storeSecretValues(id, { id });
      for (const id of ids.slice(0, 2)) await store.deleteSecretValues(id);
      const live = ids.slice(2).sort();

      const first = await listWithRequests(store);
      expect(first.ids).toEqual(live);
      expect(first.sent, first.sent.join("\n")).toHaveLength(1 + 1 + 6);
      expect(first.sent[0]).toMatch(new RegExp(`^LIST /v1/secret/detailed-metadata/${store.prefix}/default/\\?limit=`));
      expect(first.sent[1]).toBe(`LIST /v1/secret/metadata/${store.prefix}/default/`);
      for (const request of first.sent.slice(2)) {
        expect(request).toMatch(new RegExp(`^GET /v1/secret/data/${store.prefix}/default/[0-9a-f-]{36}$`));
      }

      // The adapter remembers that the server has no detailed-metadata.
      const second = await listWithRequests(store);
      expect(second.ids).toEqual(live);
      expect(second.sent, second.sent.join("\n")).toHaveLength(1 + 6);
      expect(second.sent.filter((request) => request.includes("/detailed-metadata/"))).toEqual([]);

      // A store over a deleted id is listed again; a list still reads every key.
      await store.storeSecretValues(ids[0] as string, { again: "yes" });
      const third = await listWithRequests(store);
      expect(third.ids).toEqual([ids[0] as string, ...live].sort());
      expect(third.sent).toHaveLength(1 + 6);
      expect(await store.getSecretValues(ids[0] as string)).toEqual({ again: "yes" });
    });

    it("an empty folder: 1 detailed LIST, 1 LIST, no id", async () => {
      const store = await open();
      const { ids, sent } = await listWithRequests(store);
      expect(ids).toEqual([]);
      expect(sent, sent.join("\n")).toHaveLength(2);
    });

    it("another adapter sees the same live ids, and a delete's tombstone is destroyed as on OpenBao", async () => {
      const store = await open();
      const ids = [randomUUID(), randomUUID(), randomUUID()];
      for (const id of ids) await store.storeSecretValues(id, { id });
      await store.deleteSecretValues(ids[1] as string);
      const metadata = (await admin("GET", `secret/metadata/${store.prefix}/default/${ids[1]}`)).body.data;
      expect(metadata.current_version).toBe(2);
      expect(metadata.versions["2"]).toMatchObject({ destroyed: true });
      const other = await open({ prefix: store.prefix });
      expect(await listAll(other)).toEqual([ids[0], ids[2]].sort());
      await expect(other.getSecretValues(ids[1] as string)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    });
  });
});
