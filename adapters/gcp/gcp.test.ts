/**
 * The GCP adapter against an in-memory Secret Manager (`fake-secret-manager.test-helper.ts`):
 * the contract suite with pruning on, version pruning, paging, checksums and half-made secrets,
 * which the emulator of the integration tests cannot show.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { testSecretsAdapter, testSecretsAdapterModel } from "../../src/testing/index.js";
import { crc32c } from "./crc32c.js";
import { Status } from "./errors.js";
import { adapterOn, FakeSecretManager, grpcError, PROJECT, storeOn } from "./fake-secret-manager.test-helper.js";

describe("gcp adapter with an in-memory Secret Manager", () => {
  const shared = new FakeSecretManager();
  // Pruning on (destroy, keep 1), as against Google itself.
  testSecretsAdapter("gcp (in-memory Secret Manager)", {
    createAdapter: ({ prefix }) => adapterOn(shared, { halfCreatedGraceMs: 2_000 }, prefix),
  });
  testSecretsAdapterModel("gcp (in-memory Secret Manager)", {
    createAdapter: ({ prefix }) => adapterOn(shared, { halfCreatedGraceMs: 2_000 }, prefix),
  });

  it("names and labels the secret and sends the payload with its CRC32C", async () => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake, { owner: "server-42" }, "app");
    const id = randomUUID();
    await store.storeSecretValues(id, { user: "admin" });
    const name = `projects/${PROJECT}/secrets/app-${id}`;
    expect(adapter.nameOf(id)).toBe(name);
    expect(fake.secrets.get(name)?.labels).toEqual({
      "managed-by": "omnisecret",
      "omnisecret-owner": "server-42",
      "omnisecret-id": id,
    });
    expect(fake.secrets.get(name)?.replication).toEqual({ automatic: {} });
    const add = fake.calls.find((call) => call.method === "addSecretVersion")?.request as {
      payload: { data: Buffer; dataCrc32c: number };
    };
    expect(add.payload.data.toString("utf8")).toBe('{"user":"admin"}');
    expect(add.payload.dataCrc32c).toBe(crc32c(Buffer.from('{"user":"admin"}')));
  });

  it("creates user-managed replicas when configured", async () => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake, {
      replication: { userManaged: { locations: ["us-east1", "europe-west1"] } },
    });
    const id = randomUUID();
    await store.storeSecretValues(id, {});
    expect(fake.secrets.get(adapter.nameOf(id))?.replication).toEqual({
      userManaged: { replicas: [{ location: "us-east1" }, { location: "europe-west1" }] },
    });
  });

  it.each([1, 3])("after N+2 updates only N versions are enabled (N = %i), the newest readable", async (keep) => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake, { keepVersions: keep });
    const id = randomUUID();
    await store.storeSecretValues(id, { generation: "0" });
    for (let generation = 1; generation <= keep + 2; generation += 1) {
      await store.updateSecretValues(id, { generation: String(generation) });
    }
    const states = fake.states(adapter.nameOf(id));
    expect(states).toHaveLength(keep + 3);
    expect(states.filter((state) => state === "ENABLED")).toHaveLength(keep);
    expect(states.slice(-keep).every((state) => state === "ENABLED")).toBe(true);
    expect(states.slice(0, -keep).every((state) => state === "DESTROYED")).toBe(true);
    expect(await store.getSecretValues(id)).toEqual({ generation: String(keep + 2) });
    const list = fake.calls.find((call) => call.method === "listSecretVersions")?.request;
    expect(list?.filter).toBe("state:ENABLED");
  });

  it("disables instead of destroying with pruneAction disable, and leaves every version with none", async () => {
    const fake = new FakeSecretManager();
    const disabling = storeOn(fake, { pruneAction: "disable", keepVersions: 2 });
    const keeping = storeOn(fake, { pruneAction: "none" });
    const [a, b] = [randomUUID(), randomUUID()];
    await disabling.store.storeSecretValues(a, { v: "0" });
    await keeping.store.storeSecretValues(b, { v: "0" });
    for (let v = 1; v <= 4; v += 1) {
      await disabling.store.updateSecretValues(a, { v: String(v) });
      await keeping.store.updateSecretValues(b, { v: String(v) });
    }
    expect(fake.states(disabling.adapter.nameOf(a))).toEqual([
      "DISABLED",
      "DISABLED",
      "DISABLED",
      "ENABLED",
      "ENABLED",
    ]);
    expect(fake.states(keeping.adapter.nameOf(b))).toEqual(Array(5).fill("ENABLED"));
    expect(
      fake.calls.filter((call) => call.request.parent === keeping.adapter.nameOf(b)).map((c) => c.method),
    ).not.toContain("listSecretVersions");
  });

  it("prunes correctly while updates race, never touching the newest version", async () => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake);
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "0" });
    await Promise.all(Array.from({ length: 8 }, (_, index) => store.updateSecretValues(id, { v: String(index + 1) })));
    const states = fake.states(adapter.nameOf(id));
    expect(states.filter((state) => state === "ENABLED")).toHaveLength(1);
    expect(states.at(-1)).toBe("ENABLED");
  });

  it("reports a server that cannot prune, saying the update itself was made", async () => {
    const fake = new FakeSecretManager();
    fake.hooks.listSecretVersions = () =>
      Promise.reject(grpcError(Status.UNIMPLEMENTED, "ListSecretVersions is not implemented in mock"));
    const { store } = storeOn(fake);
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    const error = await store.updateSecretValues(id, { v: "2" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_UNKNOWN", provider: "gcp", secretId: id });
    expect((error as Error).message).toContain("was updated");
    expect((error as Error).message).toContain('pruneAction to "none"');
    expect(await store.getSecretValues(id)).toEqual({ v: "2" });

    fake.hooks.listSecretVersions = () => Promise.reject(grpcError(Status.PERMISSION_DENIED, "denied"));
    await expect(store.updateSecretValues(id, { v: "3" })).rejects.toMatchObject({ code: "E_PERMISSION_DENIED" });
  });

  it("leaves nothing behind when addSecretVersion fails after createSecret, and the id can be stored afterwards", async () => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake);
    const id = randomUUID();
    fake.hooks.addSecretVersion = () => Promise.reject(grpcError(Status.PERMISSION_DENIED, "denied"));
    await expect(store.storeSecretValues(id, { a: "1" })).rejects.toMatchObject({ code: "E_PERMISSION_DENIED" });
    expect(fake.secrets.has(adapter.nameOf(id))).toBe(false);
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    delete fake.hooks.addSecretVersion;
    await store.storeSecretValues(id, { a: "2" });
    expect(await store.getSecretValues(id)).toEqual({ a: "2" });
  });

  it("treats a half-made leftover as missing, and a later store replaces it after the grace period", async () => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake, { halfCreatedGraceMs: 300 });
    const id = randomUUID();
    // What a process that died between CreateSecret and AddSecretVersion leaves behind.
    fake.hooks.addSecretVersion = () => Promise.reject(grpcError(Status.UNAVAILABLE, "gone"));
    fake.hooks.deleteSecret = () => Promise.reject(grpcError(Status.UNAVAILABLE, "gone"));
    await expect(store.storeSecretValues(id, { a: "1" })).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    delete fake.hooks.addSecretVersion;
    delete fake.hooks.deleteSecret;
    expect(fake.secrets.has(adapter.nameOf(id))).toBe(true);

    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.updateSecretValues(id, { a: "x" })).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    expect(fake.states(adapter.nameOf(id))).toEqual([]);

    const started = performance.now();
    await store.storeSecretValues(id, { a: "2" });
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(await store.getSecretValues(id)).toEqual({ a: "2" });
  });

  it("does not break a store that is between its two requests", async () => {
    const fake = new FakeSecretManager();
    const { store } = storeOn(fake, { halfCreatedGraceMs: 5_000 });
    const id = randomUUID();
    let releaseAdd: () => void = () => undefined;
    const addMayRun = new Promise<void>((resolve) => {
      releaseAdd = resolve;
    });
    const add = fake.addSecretVersion.bind(fake);
    let first = true;
    fake.addSecretVersion = async (request) => {
      if (first) {
        first = false;
        await addMayRun;
      }
      return add(request);
    };
    const slow = store.storeSecretValues(id, { writer: "slow" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = store.storeSecretValues(id, { writer: "second" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    releaseAdd();
    await slow;
    await expect(second).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    expect(await store.getSecretValues(id)).toEqual({ writer: "slow" });
  });

  it("never reads, changes or deletes a secret without omnisecret's labels, and does not list it", async () => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake, { halfCreatedGraceMs: 0 });
    const id = randomUUID();
    const name = adapter.nameOf(id);
    await fake.createSecret({ parent: `projects/${PROJECT}`, secretId: name.split("/").pop() as string, secret: {} });
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.updateSecretValues(id, { a: "b" })).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.storeSecretValues(id, { a: "b" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    const listed: string[] = [];
    for await (const listedId of store.listSecretIds()) listed.push(listedId);
    expect(listed).toEqual([]);
    expect(fake.secrets.has(name)).toBe(true);
    // Only its metadata was read: no value accessed, no version added, nothing deleted.
    const touching = fake.calls.filter((call) => String(call.request.name ?? call.request.parent).startsWith(name));
    expect(new Set(touching.map((call) => call.method))).toEqual(new Set(["getSecret"]));
  });

  it("rejects a payload whose CRC32C does not match, accepting the checksum as string, number or Long", async () => {
    const fake = new FakeSecretManager();
    const { store } = storeOn(fake);
    const id = randomUUID();
    await store.storeSecretValues(id, { secret: "value" });
    for (const form of ["string", "number", "long", "absent"] as const) {
      fake.checksumForm = form;
      expect(await store.getSecretValues(id)).toEqual({ secret: "value" });
    }
    fake.checksumForm = "string";
    const original = fake.accessSecretVersion.bind(fake);
    fake.accessSecretVersion = async (request) => {
      const responses = await original(request);
      for (const response of responses) response.payload.data[2] = 0x58; // one byte flipped in transit or at rest
      return responses;
    };
    const error = await store.getSecretValues(id).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_SECRET_INTEGRITY", provider: "gcp", secretId: id });
    expect((error as Error).message).toContain("CRC32C");
    expect((error as Error).message).not.toContain("value");
  });

  it("lists every id across several pages, each once, and only its own", async () => {
    const fake = new FakeSecretManager();
    const { store } = storeOn(fake, { listPageSize: 2 }, "paged");
    const other = storeOn(fake, {}, "paged-other");
    const otherOwner = storeOn(fake, { owner: "team-b" }, "paged");
    const ids = Array.from({ length: 7 }, () => randomUUID());
    for (const id of ids) await store.storeSecretValues(id, { id });
    await other.store.storeSecretValues(randomUUID(), {});
    await otherOwner.store.storeSecretValues(randomUUID(), {});
    const listed: string[] = [];
    for await (const id of store.listSecretIds()) listed.push(id);
    expect(listed.sort()).toEqual([...ids].sort());
    const pages = fake.calls.filter((call) => call.method === "listSecrets");
    expect(pages.length).toBeGreaterThanOrEqual(5);
    expect(pages[0]?.request).toMatchObject({
      parent: `projects/${PROJECT}`,
      pageSize: 2,
      filter: 'labels.managed-by="omnisecret" AND labels.omnisecret-owner="default"',
    });
    expect(pages[1]?.request.pageToken).toBe("2");
  });

  it("deletes with the etag, and checks the labels again when the secret changed in between", async () => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake);
    const id = randomUUID();
    await store.storeSecretValues(id, { a: "1" });
    const name = adapter.nameOf(id);
    // Between GetSecret and DeleteSecret, the secret is replaced by a foreign one.
    let replaced = false;
    fake.hooks.deleteSecret = () => {
      if (replaced) return undefined;
      replaced = true;
      fake.secrets.set(name, { labels: {}, replication: {}, etag: '"foreign"', next: 1, versions: new Map() });
      return undefined;
    };
    await expect(store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    expect(fake.secrets.get(name)?.etag).toBe('"foreign"');
    const deletes = fake.calls.filter((call) => call.method === "deleteSecret");
    expect(deletes[0]?.request.etag).toMatch(/^"e\d+"$/);
  });
});
