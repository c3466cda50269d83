/**
 * The GCP adapter against a real Secret Manager API: the blackwell-systems emulator, started by
 * the harness on a free loopback port (or the one named by OMNISECRET_TEST_GCP_ENDPOINT).
 *
 * Where the emulator falls short, a test wraps its client (an injected `client`) and says so:
 * it neither checks nor returns CRC32C checksums, pages ListSecrets in random order, and has no
 * version management (ListSecretVersions, Destroy/DisableSecretVersion answer UNIMPLEMENTED),
 * so the harness config sets `pruneAction: "none"`. Pruning itself is proven against an
 * in-memory Secret Manager in adapters/gcp/gcp.test.ts.
 */
import { randomUUID } from "node:crypto";
import { SecretManagerServiceClient } from "@google-cloud/secret-manager";
import { grpc } from "google-gax";
import { afterAll, describe, expect, it } from "vitest";
import { crc32c } from "../../../adapters/gcp/crc32c.js";
import { SecretStore } from "../../../src/index.js";
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

  it("names the secret <prefix>-<uuid>, labels it, and stores the map as the payload", async () => {
    const store = await open({ owner: "server-42" });
    const id = randomUUID();
    await store.storeSecretValues(id, { user: "admin" });
    const name = `${parent}/secrets/${store.prefix}-${id}`;
    const [secret] = await rawClient.getSecret({ name });
    // The emulator has no UpdateSecret, so the label that marks a store under way stays (see adapters/gcp/index.ts).
    expect(secret.labels).toEqual({
      "managed-by": "omnisecret",
      "omnisecret-owner": "server-42",
      "omnisecret-id": id,
      "omnisecret-state": "storing",
    });
    expect(secret.replication?.automatic).toBeTruthy();
    const [version] = await rawClient.accessSecretVersion({ name: `${name}/versions/latest` });
    expect(Buffer.from(version.payload?.data as Uint8Array).toString("utf8")).toBe('{"user":"admin"}');
  });

  it("creates user-managed replicas when configured", async () => {
    const store = await open({ replication: { userManaged: { locations: ["us-east1", "europe-west1"] } } });
    const id = randomUUID();
    await store.storeSecretValues(id, {});
    const [secret] = await rawClient.getSecret({ name: `${parent}/secrets/${store.prefix}-${id}` });
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

  it("never reads, updates, deletes or lists a secret at its name without omnisecret's labels", async () => {
    const store = await open();
    const id = randomUUID();
    const name = `${parent}/secrets/${store.prefix}-${id}`;
    await rawClient.createSecret({
      parent,
      secretId: `${store.prefix}-${id}`,
      secret: { replication: { automatic: {} } },
    });
    await rawClient.addSecretVersion({ parent: name, payload: { data: Buffer.from('{"foreign":"value"}') } });

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

  itTreatsAnotherOwnersSecretAsMissing(open, freshPrefix);

  // Injected client: the emulator cannot be made to fail AddSecretVersion.
  it("leaves nothing behind when addSecretVersion fails after createSecret, and the id can be stored afterwards", async () => {
    const client = wrappedClient({
      addSecretVersion: () => Promise.reject(grpcError(14, "injected: connection lost")),
    });
    const prefix = freshPrefix();
    const failing = await open({ prefix, client, maxAttempts: 2 });
    const id = randomUUID();
    await expect(failing.storeSecretValues(id, { a: "1" })).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    await expect(rawClient.getSecret({ name: `${parent}/secrets/${prefix}-${id}` })).rejects.toMatchObject({ code: 5 });

    const store = await open({ prefix });
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await store.storeSecretValues(id, { a: "2" });
    expect(await store.getSecretValues(id)).toEqual({ a: "2" });
  });

  it("never reports a half-made secret (no version) as existing, and a store replaces it after the grace period", async () => {
    const store = await open({ halfCreatedGraceMs: 300 });
    const id = randomUUID();
    // What a process that died between CreateSecret and AddSecretVersion leaves behind.
    await rawClient.createSecret({
      parent,
      secretId: `${store.prefix}-${id}`,
      secret: {
        labels: { "managed-by": "omnisecret", "omnisecret-owner": "default", "omnisecret-id": id },
        replication: { automatic: {} },
      },
    });
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.updateSecretValues(id, { a: "x" })).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await store.storeSecretValues(id, { a: "1" });
    expect(await store.getSecretValues(id)).toEqual({ a: "1" });
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
