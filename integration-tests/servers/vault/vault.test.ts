/**
 * The Vault adapter against a real Vault API: an OpenBao dev server built and started by the
 * harness on 127.0.0.1:8200 (or the server named by OMNISECRET_TEST_VAULT_ADDR).
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import nodeVault from "node-vault";
import { beforeAll, describe, expect, it } from "vitest";
import { isServerFault, recordRequests, requestLog, requestsChosenBy } from "../../../bench/lib/counters.js";
import { NotFound } from "../../../bench/lib/side.js";
import { createAdapterFromConfig, type SecretStore } from "../../../src/index.js";
import { testSecretsAdapter } from "../../../src/testing/index.js";
import { createGate } from "../../../test-support/gate.js";
import { CLOUD_SDK_PACKAGES, packagesLoadedFor } from "../../../test-support/packages-loaded.js";
import {
  itTreatsAnotherOwnersSecretAsMissing,
  serverConfig,
  storeOpener,
  testContractOnServer,
} from "../../server-config.js";
import { vaultAdmin } from "./admin.js";
import { createRawVault } from "./bench-raw.js";

const config = serverConfig("vault");
const address = config.address as string;
const rootToken = config.token as string;
const freshName = (kind: string) => `${kind}-${randomUUID().slice(0, 8)}`;

/** Requests with the root token, for the setup a Vault operator would do. */
const admin = vaultAdmin(config);

async function enableKv2(mount: string): Promise<void> {
  const enabled = await admin("POST", `sys/mounts/${mount}`, { type: "kv", options: { version: "2" } });
  expect(enabled.status).toBe(204);
  // A new KV v2 mount finishes its setup in the background; writes fail until it has.
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const probe = await admin("POST", `${mount}/data/ready-probe`, { data: {} });
    if (probe.status === 200) return;
    await sleep(100);
  }
  throw new Error(`KV v2 mount ${mount} never became writable`);
}

/** The requests `run` sent, counted on the wire (admin requests are fetch, counted too: none inside). */
const requestsOf = requestsChosenBy;

testContractOnServer("vault", config, { versions: { keepVersions: 2 } });
// Strict ownership changes which reads find a secret and how a store over a deleted one goes.
testSecretsAdapter("vault with verifyOwnership", {
  createAdapter: async ({ prefix }) =>
    (await createAdapterFromConfig({ ...config, prefix, verifyOwnership: true })).adapter,
});

describe("vault adapter against the Vault API", () => {
  const open = storeOpener(config, () => freshName("it"));

  /** The metadata of a secret as Vault has it. */
  const metadataOf = async (store: SecretStore, id: string, mount = "secret") =>
    (await admin("GET", `${mount}/metadata/${store.prefix}/default/${id}`)).body.data;

  it("writes the map as the version's data at <mount>/data/<prefix>/<owner>/<uuid>, keeping one version through the mount", async () => {
    // The harness set the dev server's secret/ mount to max_versions 1, as the docs recommend.
    expect((await admin("GET", "secret/config")).body.data.max_versions).toBe(1);
    const store = await open();
    const id = randomUUID();
    await store.storeSecretValues(id, { user: "admin" });
    await store.updateSecretValues(id, { user: "root" });
    const data = await admin("GET", `secret/data/${store.prefix}/default/${id}`);
    expect(data.body.data.data).toEqual({ user: "root" });
    const metadata = await metadataOf(store, id);
    expect(Object.keys(metadata.versions)).toEqual(["2"]);
    // The mount keeps one version: no metadata write of the secret's own, no marks by default.
    expect(metadata.max_versions).toBe(0);
    expect(metadata.custom_metadata ?? {}).toEqual({});
    const owned = await open({ owner: "team-a" });
    await owned.storeSecretValues(id, { team: "a" });
    expect((await admin("GET", `secret/data/${owned.prefix}/team-a/${id}`)).body.data.data).toEqual({ team: "a" });
  });

  itTreatsAnotherOwnersSecretAsMissing(open, () => freshName("it"));

  it("with verifyOwnership, marks each secret with owner and id, and checks the marks in the read it sends anyway", async () => {
    const store = await open({ owner: "team-a", verifyOwnership: true });
    const id = randomUUID();
    await store.storeSecretValues(id, { user: "admin" });
    const metadata = (await admin("GET", `secret/metadata/${store.prefix}/team-a/${id}`)).body.data;
    expect(metadata.custom_metadata).toEqual({
      "managed-by": "omnisecret",
      "omnisecret-owner": "team-a",
      "omnisecret-id": id,
    });
    expect(metadata.max_versions).toBe(1);
    expect(await store.getSecretValues(id)).toEqual({ user: "admin" });
  });

  it("treats a secret someone else put at this owner's path as this owner's by default, and never touches it with verifyOwnership", async () => {
    const prefix = freshName("foreign");
    const relaxed = await open({ prefix });
    const strict = await open({ prefix, verifyOwnership: true });
    const id = randomUUID();
    const path = `secret/data/${prefix}/default/${id}`;
    expect((await admin("POST", path, { data: { foreign: "value" } })).status).toBe(200);
    const untouched = async () => {
      const read = (await admin("GET", path)).body.data;
      expect(read.data).toEqual({ foreign: "value" });
      expect(read.metadata.version).toBe(1);
    };

    await expect(strict.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(strict.updateSecretValues(id, { mine: "no" })).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(strict.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(strict.storeSecretValues(id, { mine: "no" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    const strictIds: string[] = [];
    for await (const listed of strict.listSecretIds()) strictIds.push(listed);
    expect(strictIds).toEqual([]);
    await untouched();
    // Marked for someone else (another owner's marks copied to this path): the same.
    expect(
      (
        await admin("POST", `secret/metadata/${prefix}/default/${id}`, {
          custom_metadata: { "managed-by": "omnisecret", "omnisecret-owner": "someone-else", "omnisecret-id": id },
        })
      ).status,
    ).toBe(204);
    await expect(strict.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(strict.storeSecretValues(id, { foreign: "value" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    await untouched();

    // Without verifyOwnership, the path says whose it is.
    expect(await relaxed.getSecretValues(id)).toEqual({ foreign: "value" });
    await relaxed.updateSecretValues(id, { mine: "now" });
    expect(await relaxed.getSecretValues(id)).toEqual({ mine: "now" });
  });

  it("keeps N versions per secret, set on the secret and not on the mount", async () => {
    const keepVersions = 3;
    const store = await open({ keepVersions });
    const id = randomUUID();
    await store.storeSecretValues(id, { version: "1" });
    for (let update = 1; update <= keepVersions + 2; update += 1) {
      await store.updateSecretValues(id, { version: String(update + 1) });
    }
    const metadata = await admin("GET", `secret/metadata/${store.prefix}/default/${id}`);
    expect(metadata.body.data.current_version).toBe(keepVersions + 3);
    expect(metadata.body.data.max_versions).toBe(keepVersions);
    expect(Object.keys(metadata.body.data.versions)).toHaveLength(keepVersions);
    const mount = await admin("GET", "secret/config");
    expect(mount.body.data.max_versions).not.toBe(keepVersions);
    expect(await store.getSecretValues(id)).toEqual({ version: String(keepVersions + 3) });
  });

  it("honours a second KV v2 mount in every operation, apart from the default one", async () => {
    const mount = freshName("kv");
    await enableKv2(mount);
    const prefix = freshName("it");
    const onMount = await open({ prefix, mount });
    const onDefault = await open({ prefix });
    const id = randomUUID();
    await onMount.storeSecretValues(id, { mount });
    await expect(onDefault.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await onDefault.storeSecretValues(id, { mount: "secret" });
    expect(await onMount.getSecretValues(id)).toEqual({ mount });
    await onMount.updateSecretValues(id, { mount, updated: "yes" });
    expect(await onDefault.getSecretValues(id)).toEqual({ mount: "secret" });
    expect((await admin("GET", `${mount}/data/${prefix}/default/${id}`)).body.data.data).toEqual({
      mount,
      updated: "yes",
    });
    const listed: string[] = [];
    for await (const listedId of onMount.listSecretIds()) listed.push(listedId);
    expect(listed).toEqual([id]);
    await onMount.deleteSecretValues(id);
    // The values are gone; what stays on that mount is omnisecret's tombstone, destroyed (see adapters/vault/index.ts).
    expect((await admin("GET", `${mount}/data/${prefix}/default/${id}`)).body.data.data).toBeNull();
    const metadata = (await admin("GET", `${mount}/metadata/${prefix}/default/${id}`)).body.data;
    expect(metadata.versions[metadata.current_version]).toMatchObject({ destroyed: true });
    await expect(onMount.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    expect(await onDefault.getSecretValues(id)).toEqual({ mount: "secret" });
  });

  describe("requests per operation (the opening comment of adapters/vault/index.ts)", () => {
    /** A KV v2 mount of this test's own, keeping `maxVersions` versions (0: Vault's default, unset). */
    async function mountKeeping(maxVersions: number): Promise<string> {
      const mount = freshName("kv");
      await enableKv2(mount);
      if (maxVersions > 0)
        expect((await admin("POST", `${mount}/config`, { max_versions: maxVersions })).status).toBe(204);
      return mount;
    }

    /**
     * The requests of a store, get, update and delete of a fresh id, after a warm-up cycle (the
     * adapter reads the mount's config once, at its first write). Afterwards, no version of the
     * deleted secret may hold its values.
     */
    async function countsOf(store: SecretStore, mount: string) {
      const warm = randomUUID();
      await store.storeSecretValues(warm, { warm: "up" });
      await store.updateSecretValues(warm, { warm: "again" });
      await store.deleteSecretValues(warm);
      const id = randomUUID();
      const counts = {
        store: await requestsOf(() => store.storeSecretValues(id, { v: "1" })),
        get: await requestsOf(() => store.getSecretValues(id)),
        update: await requestsOf(() => store.updateSecretValues(id, { v: "2" })),
        delete: await requestsOf(() => store.deleteSecretValues(id)),
      };
      for (const version of [1, 2]) {
        const read = await admin("GET", `${mount}/data/${store.prefix}/default/${id}?version=${version}`);
        expect(read.body?.data?.data ?? null, `version ${version} after the delete`).toBeNull();
      }
      return { id, counts };
    }

    it("the bench's raw side (bench-raw.ts): store 1, get 1, update 2, delete 2, and not found where omnisecret says it", async () => {
      const mount = await mountKeeping(1);
      const raw = await createRawVault({ ...config, mount }, freshName("raw"));
      const id = randomUUID();
      const counts = {
        store: await requestsOf(() => raw.storeSecretValues(id, { v: "1" })),
        get: await requestsOf(() => raw.getSecretValues(id)),
        update: await requestsOf(() => raw.updateSecretValues(id, { v: "2" })),
        delete: await requestsOf(() => raw.deleteSecretValues(id)),
      };
      expect(counts).toEqual({ store: 1, get: 1, update: 2, delete: 2 });
      for (const operation of [
        () => raw.getSecretValues(id),
        () => raw.updateSecretValues(id, { v: "3" }),
        () => raw.deleteSecretValues(id),
      ]) {
        await expect(operation()).rejects.toBeInstanceOf(NotFound);
      }
      await raw.storeSecretValues(id, { v: "again" });
      await expect(raw.storeSecretValues(id, { v: "twice" })).rejects.toBeDefined();
      expect(await raw.getSecretValues(id)).toEqual({ v: "again" });
    });

    it("on a mount keeping keepVersions: store 1, get 1, update 2, delete 3, and the mount's config read once", async () => {
      const mount = await mountKeeping(1);
      const first = await open({ mount });
      expect(await requestsOf(() => first.storeSecretValues(randomUUID(), { first: "write" }))).toBe(2);
      const store = await open({ mount });
      const { id, counts } = await countsOf(store, mount);
      expect(counts).toEqual({ store: 1, get: 1, update: 2, delete: 3 });
      expect((await admin("GET", `${mount}/metadata/${store.prefix}/default/${id}`)).body.data.max_versions).toBe(0);
      // A conditional delete (what copySecrets sends for a source) costs what a delete does: the
      // values are compared with the version the delete reads anyway.
      const source = randomUUID();
      await store.storeSecretValues(source, { v: "copied" });
      const changed = () => store.deleteSecretValues(source, { expectedValues: { v: "other" } });
      expect(await requestsOf(() => expect(changed()).rejects.toMatchObject({ code: "E_SECRET_CHANGED" }))).toBe(1);
      expect(await requestsOf(() => store.deleteSecretValues(source, { expectedValues: { v: "copied" } }))).toBe(3);
    });

    it("on a mount keeping Vault's default: store 2, each secret getting its own max_versions; get 1, update 2, delete 3", async () => {
      const mount = await mountKeeping(0);
      const store = await open({ mount });
      const { id, counts } = await countsOf(store, mount);
      expect(counts).toEqual({ store: 2, get: 1, update: 2, delete: 3 });
      const metadata = (await admin("GET", `${mount}/metadata/${store.prefix}/default/${id}`)).body.data;
      expect(metadata.max_versions).toBe(1);
      expect(Object.keys(metadata.versions)).toEqual(["3"]);
    });

    it("keepVersions 3 on a mount keeping 1: store 2, get 1, update 2, delete 3 (destroying the versions below the tombstone)", async () => {
      const mount = await mountKeeping(1);
      const store = await open({ mount, keepVersions: 3 });
      const { counts } = await countsOf(store, mount);
      expect(counts).toEqual({ store: 2, get: 1, update: 2, delete: 3 });
    });

    it("keepVersions 1 on a mount keeping 3: store 1 (the secret's own setting could not lower it), delete 3", async () => {
      const mount = await mountKeeping(3);
      const store = await open({ mount });
      const { counts } = await countsOf(store, mount);
      expect(counts).toEqual({ store: 1, get: 1, update: 2, delete: 3 });
    });

    it("with verifyOwnership: store 2 (the marks), get 1, update 2, delete 3", async () => {
      const mount = await mountKeeping(1);
      const store = await open({ mount, verifyOwnership: true });
      const { counts } = await countsOf(store, mount);
      expect(counts).toEqual({ store: 2, get: 1, update: 2, delete: 3 });
    });

    it("with a token that may not read the mount's config: store 2, each secret getting its own max_versions", async () => {
      const mount = await mountKeeping(1);
      const policy = freshName("no-config");
      const rules = `path "${mount}/data/*" { capabilities = ["create", "read", "update", "list"] }
path "${mount}/metadata/*" { capabilities = ["create", "read", "update", "list"] }
path "${mount}/destroy/*" { capabilities = ["update"] }`;
      expect((await admin("PUT", `sys/policies/acl/${policy}`, { policy: rules })).status).toBe(204);
      const token = (await admin("POST", "auth/token/create", { policies: [policy] })).body.auth.client_token as string;
      const store = await open({ mount, token });
      const { id, counts } = await countsOf(store, mount);
      expect(counts).toEqual({ store: 2, get: 1, update: 2, delete: 3 });
      expect((await admin("GET", `${mount}/metadata/${store.prefix}/default/${id}`)).body.data.max_versions).toBe(1);
    });
  });

  describe("deletes racing other writers (issue 12, items 2 and 5)", () => {
    it("a slow delete never removes the secret stored again after another client deleted it", async () => {
      const prefix = freshName("slow");
      const id = randomUUID();
      const other = await open({ prefix });
      await other.storeSecretValues(id, { generation: "1" });
      // The slow client's writes wait at a gate, after its delete has read the secret.
      const gate = createGate();
      const client = nodeVault({ endpoint: config.address as string, token: config.token as string });
      const write = client.write.bind(client);
      client.write = async (...args: Parameters<typeof client.write>) => {
        await gate.pass();
        return write(...args);
      };
      const slow = await open({ prefix, client });
      const slowDelete = slow.deleteSecretValues(id).then(
        () => "deleted",
        (error: { code?: string }) => error.code,
      );
      await gate.reached;
      await other.deleteSecretValues(id);
      await other.storeSecretValues(id, { generation: "2" });
      gate.open();
      expect(await slowDelete).toBe("E_SECRET_NOT_FOUND");
      expect(await other.getSecretValues(id)).toEqual({ generation: "2" });
    });

    it("lets exactly one of five concurrent deletes of one id succeed", async () => {
      const store = await open();
      const id = randomUUID();
      await store.storeSecretValues(id, { a: "b" });
      const stores = [store, ...(await Promise.all(Array.from({ length: 4 }, () => open({ prefix: store.prefix }))))];
      const outcomes = await Promise.all(
        stores.map((each) =>
          each.deleteSecretValues(id).then(
            () => "deleted",
            (error: { code?: string }) => error.code,
          ),
        ),
      );
      expect(outcomes.filter((outcome) => outcome === "deleted")).toHaveLength(1);
      expect(outcomes.filter((outcome) => outcome !== "deleted")).toEqual(Array(4).fill("E_SECRET_NOT_FOUND"));
      await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      // Deleted for good: stored again at once, and listed once.
      await store.storeSecretValues(id, { again: "yes" });
      const listed: string[] = [];
      for await (const listedId of store.listSecretIds()) listed.push(listedId);
      expect(listed).toEqual([id]);
    });

    it("destroys the older versions a deleted secret kept (keepVersions above 1)", async () => {
      const store = await open({ keepVersions: 3 });
      const id = randomUUID();
      await store.storeSecretValues(id, { v: "1" });
      await store.updateSecretValues(id, { v: "2" });
      await store.updateSecretValues(id, { v: "3" });
      await store.deleteSecretValues(id);
      for (const version of [1, 2, 3]) {
        const read = await admin("GET", `secret/data/${store.prefix}/default/${id}?version=${version}`);
        expect(read.body?.data?.data ?? null, `version ${version}`).toBeNull();
      }
    });
  });

  describe("list after deletes (issue 21): pages of detailed metadata, no request per key", () => {
    async function listAll(store: SecretStore): Promise<string[]> {
      const ids: string[] = [];
      for await (const id of store.listSecretIds()) ids.push(id);
      return ids;
    }

    /** The ids listed and the requests the list sent, counted on the wire. */
    async function listWithRequests(store: SecretStore): Promise<{ ids: string[]; sent: string[] }> {
      recordRequests();
      const ids = await listAll(store);
      return { ids, sent: requestLog().filter((request) => !isServerFault(request)) };
    }

    it("store 30, delete 25: lists exactly the 5 live ids in ceil(30 / page size) + 1 requests, all LISTs of detailed-metadata", async () => {
      const pageSize = 10;
      const store = await open({ listPageSize: pageSize });
      const ids = Array.from({ length: 30 }, () => randomUUID());
      for (const id of ids) await store.storeSecretValues(id, { id });
      for (const id of ids.slice(0, 25)) await store.deleteSecretValues(id);
      const { ids: listed, sent } = await listWithRequests(store);
      expect(listed.sort()).toEqual(ids.slice(25).sort());
      expect(sent.length, sent.join("\n")).toBeLessThanOrEqual(Math.ceil(30 / pageSize) + 1);
      for (const request of sent) expect(request).toMatch(/^LIST \/v1\/secret\/detailed-metadata\/.*limit=10/);
      // Another adapter, on the default page size: one request.
      const other = await open({ prefix: store.prefix });
      const once = await listWithRequests(other);
      expect(once.ids.sort()).toEqual(ids.slice(25).sort());
      expect(once.sent).toHaveLength(1);
    });

    it("a delete destroys its tombstone's version; a secret stored again over it is listed, with its new values", async () => {
      const store = await open();
      const id = randomUUID();
      await store.storeSecretValues(id, { generation: "1" });
      await store.deleteSecretValues(id);
      const deleted = await metadataOf(store, id);
      expect(deleted.current_version).toBe(2);
      expect(deleted.versions["2"]).toMatchObject({ destroyed: true });
      expect(await listAll(store)).toEqual([]);
      await store.storeSecretValues(id, { generation: "2" });
      expect(await listAll(store)).toEqual([id]);
      expect(await store.getSecretValues(id)).toEqual({ generation: "2" });
      // Deleted again and stored again: the version numbers go on, each tombstone destroyed.
      await store.deleteSecretValues(id);
      expect(await listAll(store)).toEqual([]);
      await store.storeSecretValues(id, { generation: "3" });
      expect(await listAll(store)).toEqual([id]);
      expect((await metadataOf(store, id)).current_version).toBe(5);
    });

    it("a tombstone left readable (its delete died before destroying it) is listed as a leftover until a delete of its id, which answers not found and destroys it", async () => {
      const store = await open();
      const id = randomUUID();
      await store.storeSecretValues(id, { generation: "1" });
      // What a delete that died between its two writes leaves: the tombstone, not destroyed.
      const path = `secret/data/${store.prefix}/default/${id}`;
      expect((await admin("POST", path, { data: { "": "omnisecret:deleted" }, options: { cas: 1 } })).status).toBe(200);
      await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      expect(await listAll(store)).toEqual([id]);
      await expect(store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      expect(await listAll(store)).toEqual([]);
      expect((await metadataOf(store, id)).versions["2"]).toMatchObject({ destroyed: true });
      // An update finishes it the same way; a store writes over it.
      const other = randomUUID();
      await store.storeSecretValues(other, { generation: "1" });
      const otherPath = `secret/data/${store.prefix}/default/${other}`;
      expect((await admin("POST", otherPath, { data: { "": "omnisecret:deleted" }, options: { cas: 1 } })).status).toBe(
        200,
      );
      await expect(store.updateSecretValues(other, { generation: "x" })).rejects.toMatchObject({
        code: "E_SECRET_NOT_FOUND",
      });
      expect(await listAll(store)).toEqual([]);
      await store.storeSecretValues(other, { generation: "2" });
      expect(await listAll(store)).toEqual([other]);
    });

    it("with verifyOwnership, skips listed secrets whose marks are not this owner's without reading them", async () => {
      const prefix = freshName("strict-list");
      const strict = await open({ prefix, verifyOwnership: true });
      const mine = randomUUID();
      await strict.storeSecretValues(mine, { mine: "yes" });
      const foreign = randomUUID();
      expect(
        (await admin("POST", `secret/data/${prefix}/default/${foreign}`, { data: { foreign: "yes" } })).status,
      ).toBe(200);
      const { ids, sent } = await listWithRequests(strict);
      expect(ids).toEqual([mine]);
      expect(sent).toHaveLength(1);
    });

    describe("fallback: a server without detailed-metadata (HashiCorp Vault), or a token that may not list it", () => {
      it("lists correctly with LIST of the metadata and a read per key, and asks for detailed-metadata once per adapter", async () => {
        // A node-vault client on the test server that answers LIST of detailed-metadata as HashiCorp
        // Vault 1.14 does (node's HTTP server cannot parse a LIST request, so no proxy in between).
        const client = nodeVault({ endpoint: address, token: rootToken });
        const sent: string[] = [];
        for (const method of ["read", "write", "list"] as const) {
          const original = client[method].bind(client) as (...args: unknown[]) => Promise<unknown>;
          (client as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
            const path = String(args[0]);
            sent.push(`${method} ${path}`);
            if (method === "list" && path.includes("/detailed-metadata/")) {
              throw Object.assign(new Error("Status 404"), {
                response: {
                  statusCode: 404,
                  body: {
                    data: null,
                    warnings: [
                      "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv list' for this operation.",
                    ],
                  },
                },
              });
            }
            return original(...args);
          };
        }
        const store = await open({ client });
        const ids = [randomUUID(), randomUUID(), randomUUID()];
        for (const id of ids) await store.storeSecretValues(id, { id });
        await store.deleteSecretValues(ids[0] as string);
        sent.length = 0;
        expect((await listAll(store)).sort()).toEqual(ids.slice(1).sort());
        // The detailed LIST (404, as Vault answers), the LIST of the metadata, a read of each of the 3 keys.
        expect(sent, sent.join("\n")).toHaveLength(5);
        expect(sent[0]).toMatch(/^list .*\/detailed-metadata\//);
        expect(sent[1]).toMatch(/^list secret\/metadata\//);
        sent.length = 0;
        expect((await listAll(store)).sort()).toEqual(ids.slice(1).sort());
        expect(sent.filter((line) => line.includes("/detailed-metadata/"))).toEqual([]);
        expect(sent).toHaveLength(4);
        // A store over the deleted id is listed on this path too.
        await store.storeSecretValues(ids[0] as string, { again: "yes" });
        expect((await listAll(store)).sort()).toEqual([...ids].sort());
      });

      it("a token whose policy has no detailed-metadata lists by reads", async () => {
        const policy = freshName("no-detailed");
        const rules = `path "secret/data/*" { capabilities = ["create", "read", "update", "list"] }
path "secret/metadata/*" { capabilities = ["create", "read", "update", "list"] }
path "secret/destroy/*" { capabilities = ["update"] }`;
        expect((await admin("PUT", `sys/policies/acl/${policy}`, { policy: rules })).status).toBe(204);
        const token = (await admin("POST", "auth/token/create", { policies: [policy] })).body.auth
          .client_token as string;
        const store = await open({ token });
        const ids = [randomUUID(), randomUUID()];
        for (const id of ids) await store.storeSecretValues(id, { id });
        await store.deleteSecretValues(ids[0] as string);
        const first = await listWithRequests(store);
        expect(first.ids).toEqual([ids[1]]);
        // The refused detailed LIST, the LIST of the metadata, two reads; then no detailed LIST again.
        expect(first.sent, first.sent.join("\n")).toHaveLength(4);
        const second = await listWithRequests(store);
        expect(second.ids).toEqual([ids[1]]);
        expect(second.sent).toHaveLength(3);
      });
    });
  });

  it("reads a secret whose latest version was soft-deleted outside omnisecret as missing, and stores the id again", async () => {
    const store = await open();
    const id = randomUUID();
    await store.storeSecretValues(id, { generation: "1" });
    expect((await admin("DELETE", `secret/data/${store.prefix}/default/${id}`)).status).toBe(204);
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.updateSecretValues(id, { generation: "x" })).rejects.toMatchObject({
      code: "E_SECRET_NOT_FOUND",
    });
    await expect(store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await store.storeSecretValues(id, { generation: "2" });
    expect(await store.getSecretValues(id)).toEqual({ generation: "2" });
    await expect(store.storeSecretValues(id, { generation: "3" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
  });

  describe("AppRole", () => {
    const authMount = freshName("approle");
    const policy = freshName("omnisecret");
    let appRole: { roleId: string; secretId: string; mount: string };

    beforeAll(async () => {
      expect((await admin("POST", `sys/auth/${authMount}`, { type: "approle" })).status).toBe(204);
      const rules = 'path "secret/*" { capabilities = ["create", "read", "update", "delete", "list"] }';
      expect((await admin("PUT", `sys/policies/acl/${policy}`, { policy: rules })).status).toBe(204);
      // Tokens that live two seconds, so the test sees them expire.
      const role = await admin("POST", `auth/${authMount}/role/app`, {
        token_policies: [policy],
        token_ttl: "2s",
        token_max_ttl: "2s",
      });
      expect(role.status).toBe(204);
      const roleId = (await admin("GET", `auth/${authMount}/role/app/role-id`)).body.data.role_id as string;
      const secretId = (await admin("POST", `auth/${authMount}/role/app/secret-id`)).body.data.secret_id as string;
      appRole = { roleId, secretId, mount: authMount };
    });

    it("keeps working after its token expires", { timeout: 30_000 }, async () => {
      const store = await open({ token: undefined, appRole });
      const id = randomUUID();
      await store.storeSecretValues(id, { phase: "before expiry" });
      await sleep(3_000);
      expect(await store.getSecretValues(id)).toEqual({ phase: "before expiry" });
      await store.updateSecretValues(id, { phase: "after expiry" });
      await sleep(2_500);
      expect(await store.getSecretValues(id)).toEqual({ phase: "after expiry" });
      await store.deleteSecretValues(id);
    });

    it("logs in again when its token is revoked", async () => {
      const store = await open({ token: undefined, appRole });
      const id = randomUUID();
      await store.storeSecretValues(id, { phase: "before revocation" });
      // Revoke every token this AppRole mount handed out, as an operator might.
      const accessors = (await admin("LIST", "auth/token/accessors")).body.data.keys as string[];
      let revoked = 0;
      for (const accessor of accessors) {
        const lookup = await admin("POST", "auth/token/lookup-accessor", { accessor });
        if (String(lookup.body?.data?.path ?? "").startsWith(`auth/${authMount}/`)) {
          expect((await admin("POST", "auth/token/revoke-accessor", { accessor })).status).toBe(204);
          revoked += 1;
        }
      }
      expect(revoked).toBeGreaterThan(0);
      expect(await store.getSecretValues(id)).toEqual({ phase: "before revocation" });
    });

    it("reports wrong AppRole credentials as permission denied", async () => {
      const store = await open({ token: undefined, appRole: { ...appRole, secretId: randomUUID() } });
      await expect(store.getSecretValues(randomUUID())).rejects.toMatchObject({ code: "E_PERMISSION_DENIED" });
    });
  });

  it("keeps a namespace's secrets apart from the root namespace's (X-Vault-Namespace)", async () => {
    const namespace = freshName("ns");
    expect((await admin("POST", `sys/namespaces/${namespace}`, {})).status).toBe(200);
    const inNamespace = await fetch(`${address}/v1/sys/mounts/secret`, {
      method: "POST",
      headers: { "X-Vault-Token": rootToken, "X-Vault-Namespace": namespace },
      body: JSON.stringify({ type: "kv", options: { version: "2" } }),
    });
    expect(inNamespace.status).toBe(204);
    // As for enableKv2: a new KV v2 mount answers "Upgrading ..." until its setup is done.
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const probe = await fetch(`${address}/v1/secret/data/ready-probe`, {
        method: "POST",
        headers: { "X-Vault-Token": rootToken, "X-Vault-Namespace": namespace },
        body: JSON.stringify({ data: {} }),
      });
      if (probe.status === 200) break;
      await sleep(100);
    }
    const prefix = freshName("it");
    const namespaced = await open({ prefix, namespace });
    const root = await open({ prefix });
    const id = randomUUID();
    await namespaced.storeSecretValues(id, { namespace });
    await expect(root.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    expect(await namespaced.getSecretValues(id)).toEqual({ namespace });
    await namespaced.deleteSecretValues(id);
  });

  it("reports a token without access as permission denied", async () => {
    const store = await open({ token: "not-a-valid-token" });
    await expect(store.getSecretValues(randomUUID())).rejects.toMatchObject({ code: "E_PERMISSION_DENIED" });
  });

  it("reports a server that does not answer as unavailable", async () => {
    const store = await open({ address: "http://127.0.0.1:9", maxAttempts: 2 });
    await expect(store.getSecretValues(randomUUID())).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
  });

  it("loads node-vault and no cloud SDK when vault is selected", () => {
    const loaded = packagesLoadedFor(config);
    expect(loaded).toContain("node-vault");
    for (const sdk of CLOUD_SDK_PACKAGES.filter((name) => name !== "node-vault")) expect(loaded).not.toContain(sdk);
    expect(loaded).not.toContain("better-sqlite3");
  });
});
