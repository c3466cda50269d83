/**
 * The GCP adapter against a real Secret Manager API: the blackwell-systems emulator, started by
 * the harness on a free loopback port (or the one named by OMNISECRET_TEST_GCP_ENDPOINT).
 *
 * Where the emulator falls short, a test wraps its client (an injected `client`) and says so:
 * it neither checks nor returns CRC32C checksums, pages ListSecrets in random order and ignores
 * its filter, and has no version management (Destroy/DisableSecretVersion and UpdateSecret answer
 * UNIMPLEMENTED; ListSecretVersions too, so "previous" and listSecretVersions are E_NOT_SUPPORTED
 * here), so the harness config sets `pruneAction: "none"`. Pruning, and the half-made
 * secret racing other operations step by step, are proven against an in-memory Secret Manager in
 * adapters/gcp/gcp.test.ts.
 */
import { randomUUID } from "node:crypto";
import { SecretManagerServiceClient } from "@google-cloud/secret-manager";
import { grpc } from "google-gax";
import * as v from "valibot";
import { afterAll, describe, expect, it } from "vitest";
import { crc32c } from "../../../adapters/gcp/crc32c.js";
import { GcpSecretsAdapter } from "../../../adapters/gcp/index.js";
import { gcpOptionsSchema } from "../../../adapters/gcp/options.js";
import { countGrpcCalls, recordRequests, requestLog } from "../../../bench/lib/counters.js";
import { SecretStore } from "../../../src/index.js";
import { incarnationOf, versionToken } from "../../../src/kit/index.js";
import { CLOUD_SDK_PACKAGES, packagesLoadedFor } from "../../../test-support/packages-loaded.js";
import {
  itTreatsAnotherOwnersSecretAsMissing,
  serverConfig,
  storeOpener,
  testContractOnServer,
} from "../../server-config.js";

const config = serverConfig("gcp");
const parent = `projects/${config.projectId as string}`;
const freshPrefix = () => `it-${randomUUID().slice(0, 8)}`;
/** The full name of a secret of `store` (owner "default" unless given). */
const nameIn = (store: SecretStore, id: string, owner = "default") =>
  `${parent}/secrets/${store.prefix}-${owner}-${id}`;

function emulatorClient(): SecretManagerServiceClient {
  return new SecretManagerServiceClient({
    apiEndpoint: config.apiEndpoint as string,
    port: config.port as number,
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: "googleapis.com",
  });
}
const rawClient = emulatorClient();
const wrappedClients: SecretManagerServiceClient[] = [];
afterAll(async () => {
  for (const client of [rawClient, ...wrappedClients]) await client.close();
});

/** A client of the emulator with some methods replaced; the rest go to the emulator. */
function wrappedClient(overrides: Partial<Record<keyof SecretManagerServiceClient, unknown>>) {
  const client = emulatorClient();
  wrappedClients.push(client);
  return new Proxy(client, {
    get: (target, property, receiver) =>
      property in overrides
        ? overrides[property as keyof SecretManagerServiceClient]
        : Reflect.get(target, property, receiver),
  });
}

function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details });
}

testContractOnServer("gcp", config);

describe("gcp adapter against the Secret Manager emulator", () => {
  const open = storeOpener(config, () => freshPrefix());

  it("names the secret <prefix>-<owner>-<uuid>, labels it, and stores the map as the payload", async () => {
    const store = await open({ owner: "server-42" });
    const id = randomUUID();
    await store.storeSecretValues(id, { user: "admin" });
    const name = nameIn(store, id, "server-42");
    const [secret] = await rawClient.getSecret({ name });
    expect(secret.labels).toEqual({
      "managed-by": "omnisecret",
      "omnisecret-owner": "server-42",
      "omnisecret-id": id,
    });
    expect(secret.replication?.automatic).toBeTruthy();
    const [version] = await rawClient.accessSecretVersion({ name: `${name}/versions/latest` });
    expect(version.name).toBe(`${name}/versions/1`);
    expect(Buffer.from(version.payload?.data as Uint8Array).toString("utf8")).toBe('{"user":"admin"}');
  });

  it("creates user-managed replicas when configured", async () => {
    const store = await open({ replication: { userManaged: { locations: ["us-east1", "europe-west1"] } } });
    const id = randomUUID();
    await store.storeSecretValues(id, {});
    const [secret] = await rawClient.getSecret({ name: nameIn(store, id) });
    expect(secret.replication?.userManaged?.replicas?.map((replica) => replica.location)).toEqual([
      "us-east1",
      "europe-west1",
    ]);
  });

  it("deletes for good and stores the same id again at once", async () => {
    const store = await open();
    const id = randomUUID();
    for (let generation = 1; generation <= 3; generation += 1) {
      await store.storeSecretValues(id, { generation: String(generation) });
      await store.updateSecretValues(id, { generation: `${generation}b` });
      expect(await store.getSecretValues(id)).toEqual({ generation: `${generation}b` });
      await store.deleteSecretValues(id);
    }
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
  });

  /** A secret made with the plain SDK at `store`'s name for `id`, without labels, holding `payload`. */
  async function foreignSecret(store: SecretStore, id: string, payload: string): Promise<string> {
    const name = nameIn(store, id);
    await rawClient.createSecret({
      parent,
      secretId: name.split("/").pop() as string,
      secret: { replication: { automatic: {} } },
    });
    await rawClient.addSecretVersion({ parent: name, payload: { data: Buffer.from(payload) } });
    return name;
  }

  it("verifyOwnership: never reads, updates, deletes or lists a secret at its name without omnisecret's labels", async () => {
    const store = await open({ verifyOwnership: true });
    const id = randomUUID();
    const name = await foreignSecret(store, id, '{"foreign":"value"}');

    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.updateSecretValues(id, { mine: "now" })).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.storeSecretValues(id, { mine: "now" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    const listed: string[] = [];
    for await (const listedId of store.listSecretIds()) listed.push(listedId);
    expect(listed).toEqual([]);

    const [untouched] = await rawClient.accessSecretVersion({ name: `${name}/versions/latest` });
    expect(untouched.name).toBe(`${name}/versions/1`);
    expect(Buffer.from(untouched.payload?.data as Uint8Array).toString("utf8")).toBe('{"foreign":"value"}');
    await rawClient.deleteSecret({ name });
  });

  it("by default takes a secret at one of its names for its own, labels or not", async () => {
    const store = await open();
    const id = randomUUID();
    await foreignSecret(store, id, '{"put":"by hand"}');
    expect(await store.getSecretValues(id)).toEqual({ put: "by hand" });
    await store.deleteSecretValues(id);
  });

  itTreatsAnotherOwnersSecretAsMissing(open, freshPrefix);

  it("keeps another owner's secret under another name", async () => {
    const prefix = freshPrefix();
    const mine = await open({ prefix, owner: "team-a" });
    const theirs = await open({ prefix, owner: "team-b" });
    const id = randomUUID();
    await theirs.storeSecretValues(id, { team: "b" });
    await expect(mine.updateSecretValues(id, { team: "a" })).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await mine.storeSecretValues(id, { team: "a" });
    expect(await theirs.getSecretValues(id)).toEqual({ team: "b" });
    expect(await mine.getSecretValues(id)).toEqual({ team: "a" });
    await rawClient.getSecret({ name: nameIn(mine, id, "team-a") });
    await rawClient.getSecret({ name: nameIn(theirs, id, "team-b") });
  });

  it("verifyOwnership: GetSecret before get, update and delete, nothing more (gRPC calls counted on the channel)", async () => {
    countGrpcCalls();
    const sentBy = async (run: () => Promise<unknown>) => {
      recordRequests();
      await run();
      return requestLog().map((request) => request.split("/").pop());
    };
    for (const verifyOwnership of [false, true]) {
      const store = await open({ verifyOwnership });
      // A client's first call sets up its channel: not what an operation costs.
      const warmUp = randomUUID();
      await store.storeSecretValues(warmUp, {});
      await store.deleteSecretValues(warmUp);
      const id = randomUUID();
      const sent = {
        store: await sentBy(() => store.storeSecretValues(id, { a: "1" })),
        get: await sentBy(() => store.getSecretValues(id)),
        update: await sentBy(() => store.updateSecretValues(id, { a: "2" })),
        delete: await sentBy(() => store.deleteSecretValues(id)),
      };
      const check = verifyOwnership ? ["GetSecret"] : [];
      expect(sent, `verifyOwnership: ${verifyOwnership}`).toEqual({
        store: ["CreateSecret", "AddSecretVersion"],
        get: [...check, "AccessSecretVersion"],
        update: [...check, "AddSecretVersion"],
        delete: [...check, "DeleteSecret"],
      });
    }
  });

  // Injected client: the emulator cannot be made to fail AddSecretVersion.
  it("leaves nothing behind when addSecretVersion fails after createSecret, and the id can be stored afterwards", async () => {
    const client = wrappedClient({
      addSecretVersion: () => Promise.reject(grpcError(14, "injected: connection lost")),
    });
    const prefix = freshPrefix();
    const failing = await open({ prefix, client, maxAttempts: 2 });
    const id = randomUUID();
    await expect(failing.storeSecretValues(id, { a: "1" })).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    await expect(rawClient.getSecret({ name: nameIn(failing, id) })).rejects.toMatchObject({ code: 5 });

    const store = await open({ prefix });
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await store.storeSecretValues(id, { a: "2" });
    expect(await store.getSecretValues(id)).toEqual({ a: "2" });
  });

  describe("a half-made secret (what a store that died between CreateSecret and AddSecretVersion leaves)", () => {
    async function leftover(store: SecretStore, id: string): Promise<string> {
      const name = nameIn(store, id);
      await rawClient.createSecret({
        parent,
        secretId: name.split("/").pop() as string,
        secret: {
          labels: { "managed-by": "omnisecret", "omnisecret-owner": "default", "omnisecret-id": id },
          replication: { automatic: {} },
        },
      });
      return name;
    }

    it("has no value for get but is listed (the documented exception), and a store replaces it after the grace period", async () => {
      const store = await open({ halfCreatedGraceMs: 300 });
      const id = randomUUID();
      await leftover(store, id);
      await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      const listed: string[] = [];
      for await (const listedId of store.listSecretIds()) listed.push(listedId);
      expect(listed).toEqual([id]);
      await store.storeSecretValues(id, { a: "1" });
      expect(await store.getSecretValues(id)).toEqual({ a: "1" });
      await store.deleteSecretValues(id);
    });

    it("an update completes it, as if the dead store had finished just before; a delete removes it", async () => {
      const store = await open();
      const [updated, deleted] = [randomUUID(), randomUUID()];
      const name = await leftover(store, updated);
      await store.updateSecretValues(updated, { a: "x" });
      expect(await store.getSecretValues(updated)).toEqual({ a: "x" });
      // Version 1, then the same payload again: it ends newer than a store's version that lands late.
      const [latest] = await rawClient.accessSecretVersion({ name: `${name}/versions/latest` });
      expect(latest.name).toBe(`${name}/versions/2`);
      await store.deleteSecretValues(updated);

      await leftover(store, deleted);
      await store.deleteSecretValues(deleted);
      await expect(store.deleteSecretValues(deleted)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    });

    // Injected client: the store's AddSecretVersion is held back until the other operation ran.
    it.each(["update", "delete"] as const)("racing a store between its two requests: %s", async (other) => {
      let release: () => void = () => undefined;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      let sent: () => void = () => undefined;
      const addSent = new Promise<void>((resolve) => {
        sent = resolve;
      });
      const client = wrappedClient({
        addSecretVersion: async (request: { parent: string; payload: { data: Buffer } }) => {
          sent();
          await released;
          return rawClient.addSecretVersion(request);
        },
      });
      const prefix = freshPrefix();
      const storing = await open({ prefix, client });
      const store = await open({ prefix });
      const id = randomUUID();
      const stored = storing.storeSecretValues(id, { by: "store" });
      await addSent;
      if (other === "update") await store.updateSecretValues(id, { by: "update" });
      else await store.deleteSecretValues(id);
      release();
      await stored;
      if (other === "update") {
        // The update is ordered after the store: its value stays.
        expect(await store.getSecretValues(id)).toEqual({ by: "update" });
        await store.deleteSecretValues(id);
      } else {
        // The store is ordered before the delete: both succeed, and the id is missing.
        await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      }
    });
  });

  // Injected client: the emulator neither returns nor checks dataCrc32c.
  it("treats a payload whose CRC32C does not match as an integrity error, not data", async () => {
    const prefix = freshPrefix();
    const store = await open({ prefix });
    const id = randomUUID();
    await store.storeSecretValues(id, { secret: "value" });

    const withChecksum = (corrupt: boolean) =>
      wrappedClient({
        accessSecretVersion: async (request: { name: string }) => {
          const [response] = await rawClient.accessSecretVersion(request);
          const data = Buffer.from(response.payload?.data as Uint8Array);
          const dataCrc32c = String(crc32c(data));
          if (corrupt) data[2] = 0x58; // one byte flipped in transit or at rest; the JSON stays valid
          return [{ ...response, payload: { data, dataCrc32c } }];
        },
      });
    const honest = await open({ prefix, client: withChecksum(false) });
    expect(await honest.getSecretValues(id)).toEqual({ secret: "value" });
    const corrupted = await open({ prefix, client: withChecksum(true) });
    const error = await corrupted.getSecretValues(id).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_SECRET_INTEGRITY", provider: "gcp", secretId: id });
    expect((error as Error).message).not.toContain("value");
  });

  // Injected client: the emulator pages ListSecrets in random order (a Go map), so its pages
  // repeat and skip secrets. This client pages the emulator's full list in name order instead.
  it("lists every id across more than one page", async () => {
    const pageRequests: { pageSize?: number; pageToken?: string }[] = [];
    const client = wrappedClient({
      listSecrets: async (request: { parent: string; pageSize?: number; pageToken?: string; filter?: string }) => {
        pageRequests.push(request);
        const [all] = await rawClient.listSecrets(
          { parent: request.parent, pageSize: 25_000, filter: request.filter ?? "" },
          { autoPaginate: false },
        );
        const sorted = [...all].sort((a, b) => String(a.name).localeCompare(String(b.name)));
        const start = Number(request.pageToken || 0);
        const end = start + (request.pageSize ?? 100);
        return [sorted.slice(start, end), null, { nextPageToken: end < sorted.length ? String(end) : "" }];
      },
    });
    const prefix = freshPrefix();
    const store = await open({ prefix, client, listPageSize: 2 });
    const ids = Array.from({ length: 7 }, () => randomUUID());
    for (const id of ids) await store.storeSecretValues(id, { id });
    const listed: string[] = [];
    for await (const id of store.listSecretIds()) listed.push(id);
    expect(listed.sort()).toEqual([...ids].sort());
    expect(pageRequests.length).toBeGreaterThan(1);
    expect(pageRequests.every((request) => request.pageSize === 2)).toBe(true);
  });

  it("reports pruning on a server without version management instead of ignoring it", async () => {
    const store = await open({ pruneAction: "destroy" });
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    const error = await store.updateSecretValues(id, { v: "2" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_UNKNOWN", provider: "gcp", secretId: id });
    expect((error as Error).message).toMatch(/was updated, but .*UNIMPLEMENTED/);
    expect(await store.getSecretValues(id)).toEqual({ v: "2" });
  });

  it("versions: reads a version by token, refuses a token of a deleted secret; no ListSecretVersions here", async () => {
    const prefix = freshPrefix();
    const adapter = new GcpSecretsAdapter(v.parse(gcpOptionsSchema, { ...config, keepVersions: 2 }), { prefix });
    const store = SecretStore.fromAdapter(adapter, { prefix });
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "A" });
    await store.updateSecretValues(id, { v: "B" });
    // ListSecretVersions answers UNIMPLEMENTED on the emulator, so the token is made as the
    // adapter makes it, from the secret's createTime: this proves the token read (AccessSecretVersion
    // of versions/N, then GetSecret) and the emulator's timestamps; the rest is proven on the fake.
    const [secret] = await rawClient.getSecret({ name: adapter.nameOf(id) });
    const createdAt = Number(secret.createTime?.seconds) * 1000 + Math.floor((secret.createTime?.nanos ?? 0) / 1e6);
    const tokenOf = (number: number) => versionToken(incarnationOf(createdAt), number);
    expect(adapter.isVersionToken(tokenOf(1))).toBe(true);
    expect((await adapter.getSecretValues(id, { version: tokenOf(1) })).values).toEqual({ v: "A" });
    expect((await adapter.getSecretValues(id, { version: tokenOf(2) })).values).toEqual({ v: "B" });
    await expect(adapter.getSecretValues(id, { version: tokenOf(3) })).rejects.toMatchObject({
      code: "E_SECRET_NOT_FOUND",
    });
    for (const unimplemented of [
      () => adapter.getSecretValues(id, { version: "previous" }),
      () => adapter.listSecretVersions(id),
    ]) {
      await expect(unimplemented()).rejects.toMatchObject({ code: "E_NOT_SUPPORTED", provider: "gcp" });
    }
    await store.deleteSecretValues(id);
    await store.storeSecretValues(id, { v: "new" });
    const error = await adapter.getSecretValues(id, { version: tokenOf(1) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_SECRET_NOT_FOUND", secretId: id });
    expect((error as Error).message).toContain("gone");
    await store.close();
  });

  it("reports a server that does not answer as unavailable", async () => {
    const store = await SecretStore.create({ ...config, port: 9, maxAttempts: 1 });
    await expect(store.getSecretValues(randomUUID())).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    await store.close();
  });

  it("loads the Google Cloud SDK and no other cloud SDK when gcp is selected", () => {
    const loaded = packagesLoadedFor(config);
    expect(loaded).toContain("@google-cloud/secret-manager");
    const gcpPackages = ["@google-cloud/secret-manager", "google-gax", "@grpc/grpc-js"];
    for (const sdk of CLOUD_SDK_PACKAGES.filter((name) => !gcpPackages.includes(name))) {
      expect(loaded).not.toContain(sdk);
    }
    expect(loaded).not.toContain("better-sqlite3");
  });
});
