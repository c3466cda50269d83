/**
 * The GCP adapter against an in-memory Secret Manager (`fake-secret-manager.test-helper.ts`):
 * the contract suite and the model with pruning on, in both ownership modes; the requests each
 * operation sends; version pruning, paging, checksums; and the half-made secret (a store between
 * its CreateSecret and its AddSecretVersion, or a leftover of one that died there) racing with
 * updates, deletes and other stores, step by step, which the emulator cannot be made to show.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { testSecretsAdapter, testSecretsAdapterModel } from "../../src/testing/index.js";
import { crc32c } from "./crc32c.js";
import { Status } from "./errors.js";
import { adapterOn, FakeSecretManager, grpcError, PROJECT, storeOn } from "./fake-secret-manager.test-helper.js";

/** A promise that is held until `open()` is called. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

/** Lets the requests in flight on the fake reach it and be answered. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

/**
 * Holds the next AddSecretVersion to `parent` at the fake until the returned gate is opened; the
 * call is sent, and runs when opened, as a request still on the wire would.
 */
function holdNextAdd(fake: FakeSecretManager): { opened: () => void; sent: Promise<void> } {
  const add = fake.addSecretVersion.bind(fake);
  const held = gate();
  const sent = gate();
  let first = true;
  fake.addSecretVersion = (request) => {
    if (!first) return add(request);
    first = false;
    sent.open();
    return held.wait.then(() => add(request));
  };
  return { opened: held.open, sent: sent.wait };
}

describe("gcp adapter with an in-memory Secret Manager", () => {
  const shared = new FakeSecretManager();
  // Pruning on (destroy, keep 1), as against Google itself.
  for (const verifyOwnership of [false, true]) {
    const label = `gcp (in-memory Secret Manager${verifyOwnership ? ", verifyOwnership" : ""})`;
    const createAdapter = ({ prefix }: { prefix: string }) =>
      adapterOn(shared, { halfCreatedGraceMs: 2_000, verifyOwnership }, prefix);
    testSecretsAdapter(label, { createAdapter });
    testSecretsAdapterModel(label, { createAdapter });
    // Versions (issue 23) on the fake only: the emulator answers UNIMPLEMENTED to ListSecretVersions.
    const keepingTwo = ({ prefix }: { prefix: string }) =>
      adapterOn(shared, { halfCreatedGraceMs: 2_000, verifyOwnership, keepVersions: 2 }, prefix);
    testSecretsAdapter(`${label} (keepVersions 2)`, { createAdapter: keepingTwo, versions: { keepVersions: 2 } });
    testSecretsAdapterModel(`${label} (keepVersions 2)`, { createAdapter: keepingTwo, versions: { keepVersions: 2 } });
  }

  it("names the secret <prefix>-<owner>-<uuid>, labels it, and sends the payload with its CRC32C", async () => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake, { owner: "server-42" }, "app");
    const id = randomUUID();
    await store.storeSecretValues(id, { user: "admin" });
    const name = `projects/${PROJECT}/secrets/app-server-42-${id}`;
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

  it("sends the fewest requests by default, and GetSecret first with verifyOwnership", async () => {
    const methodsOf = async (verifyOwnership: boolean, pruneAction: "destroy" | "none") => {
      const fake = new FakeSecretManager();
      const { store } = storeOn(fake, { verifyOwnership, pruneAction });
      const id = randomUUID();
      const sent: Record<string, string[]> = {};
      const run = async (operation: string, body: () => Promise<unknown>) => {
        const before = fake.calls.length;
        await body();
        sent[operation] = fake.calls.slice(before).map((call) => call.method);
      };
      await run("store", () => store.storeSecretValues(id, { v: "1" }));
      await run("get", () => store.getSecretValues(id));
      await run("update", () => store.updateSecretValues(id, { v: "2" }));
      await run("delete", () => store.deleteSecretValues(id));
      return sent;
    };
    expect(await methodsOf(false, "none")).toEqual({
      store: ["createSecret", "addSecretVersion"],
      get: ["accessSecretVersion"],
      update: ["addSecretVersion"],
      delete: ["deleteSecret"],
    });
    expect((await methodsOf(false, "destroy")).update).toEqual(["addSecretVersion", "destroySecretVersion"]);
    expect(await methodsOf(true, "destroy")).toEqual({
      store: ["createSecret", "addSecretVersion"],
      get: ["getSecret", "accessSecretVersion"],
      update: ["getSecret", "addSecretVersion", "destroySecretVersion"],
      delete: ["getSecret", "deleteSecret"],
    });
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
    // Each update prunes the one version that fell out of the window, named from its own number.
    const destroyed = fake.calls.filter((call) => call.method === "destroySecretVersion").map((c) => c.request.name);
    expect(destroyed).toEqual([1, 2, 3].map((n) => `${adapter.nameOf(id)}/versions/${n}`));
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
    const pruning = new Set(["destroySecretVersion", "disableSecretVersion"]);
    expect(
      fake.calls.filter((call) => String(call.request.name).startsWith(keeping.adapter.nameOf(b))).map((c) => c.method),
    ).not.toSatisfy((methods: string[]) => methods.some((method) => pruning.has(method)));
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
    fake.hooks.destroySecretVersion = () =>
      Promise.reject(grpcError(Status.UNIMPLEMENTED, "DestroySecretVersion is not implemented in mock"));
    const { store } = storeOn(fake);
    const id = randomUUID();
    await store.storeSecretValues(id, { v: "1" });
    const error = await store.updateSecretValues(id, { v: "2" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_UNKNOWN", provider: "gcp", secretId: id });
    expect((error as Error).message).toContain("was updated");
    expect((error as Error).message).toContain('pruneAction to "none"');
    expect(await store.getSecretValues(id)).toEqual({ v: "2" });

    fake.hooks.destroySecretVersion = () => Promise.reject(grpcError(Status.PERMISSION_DENIED, "denied"));
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

  describe("a half-made secret (CreateSecret done, AddSecretVersion not yet or never)", () => {
    /** What a process that died between CreateSecret and AddSecretVersion leaves behind. */
    async function leftover(fake: FakeSecretManager, adapter: { secretIdOf(id: string): string }, id: string) {
      await fake.createSecret({
        parent: `projects/${PROJECT}`,
        secretId: adapter.secretIdOf(id),
        secret: { labels: { "managed-by": "omnisecret", "omnisecret-owner": "default", "omnisecret-id": id } },
      });
    }

    it("is not found for get, is listed (the documented exception), and a store replaces it after the grace period", async () => {
      const fake = new FakeSecretManager();
      const { adapter, store } = storeOn(fake, { halfCreatedGraceMs: 300 });
      const id = randomUUID();
      await leftover(fake, adapter, id);
      await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      const listed: string[] = [];
      for await (const listedId of store.listSecretIds()) listed.push(listedId);
      expect(listed).toEqual([id]);

      const started = performance.now();
      await store.storeSecretValues(id, { a: "2" });
      expect(performance.now() - started).toBeGreaterThanOrEqual(250);
      expect(await store.getSecretValues(id)).toEqual({ a: "2" });
    });

    it("is completed by an update, as if the dead store had finished just before it", async () => {
      const fake = new FakeSecretManager();
      const { adapter, store } = storeOn(fake);
      const id = randomUUID();
      await leftover(fake, adapter, id);
      await store.updateSecretValues(id, { a: "x" });
      expect(await store.getSecretValues(id)).toEqual({ a: "x" });
      // Version 1, then the same payload once more (see the update racing a store below); the first is pruned.
      expect(fake.states(adapter.nameOf(id))).toEqual(["DESTROYED", "ENABLED"]);
    });

    it("is deleted by a delete, which succeeds", async () => {
      const fake = new FakeSecretManager();
      const { adapter, store } = storeOn(fake);
      const id = randomUUID();
      await leftover(fake, adapter, id);
      await store.deleteSecretValues(id);
      expect(fake.secrets.has(adapter.nameOf(id))).toBe(false);
      await expect(store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    });

    it("is left out of list when this adapter's own store failed after a CreateSecret that ran", async () => {
      const fake = new FakeSecretManager();
      const { adapter, store } = storeOn(fake);
      const [lost, stored] = [randomUUID(), randomUUID()];
      // The CreateSecret runs, its answer is lost; then the network is back.
      fake.hooks.createSecret = (request) => {
        delete fake.hooks.createSecret;
        return fake.createSecret(request as never).then(() => Promise.reject(grpcError(Status.UNAVAILABLE, "lost")));
      };
      await expect(store.storeSecretValues(lost, { a: "1" })).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
      expect(fake.secrets.has(adapter.nameOf(lost))).toBe(true);
      await store.storeSecretValues(stored, { a: "2" });
      const listed: string[] = [];
      for await (const listedId of store.listSecretIds()) listed.push(listedId);
      expect(listed).toEqual([stored]);
      await expect(store.getSecretValues(lost)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      // One GetSecretVersion for the suspect id, none for the other.
      const checks = fake.calls.filter((call) => call.method === "getSecretVersion").map((c) => c.request.name);
      expect(checks).toEqual([`${adapter.nameOf(lost)}/versions/latest`]);
    });

    it("does not break a store that is between its two requests", async () => {
      const fake = new FakeSecretManager();
      const { store } = storeOn(fake, { halfCreatedGraceMs: 5_000 });
      const id = randomUUID();
      const held = holdNextAdd(fake);
      const slow = store.storeSecretValues(id, { writer: "slow" });
      await held.sent;
      const second = store.storeSecretValues(id, { writer: "second" });
      await new Promise((resolve) => setTimeout(resolve, 300));
      held.opened();
      await slow;
      await expect(second).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
      expect(await store.getSecretValues(id)).toEqual({ writer: "slow" });
    });

    it("update between a store's two requests: both succeed, the update is ordered after the store", async () => {
      for (const updateRepeatsFirst of [true, false]) {
        const fake = new FakeSecretManager();
        const { adapter, store } = storeOn(fake);
        const id = randomUUID();
        const storeAdd = holdNextAdd(fake);
        const storing = store.storeSecretValues(id, { by: "store" });
        await storeAdd.sent;
        // The update's AddSecretVersion makes version 1.
        const updateRepeat = updateRepeatsFirst ? undefined : holdNextAdd(fake);
        const updating = store.updateSecretValues(id, { by: "update" });
        if (updateRepeat) await updateRepeat.sent;
        else await updating;
        storeAdd.opened();
        await storing;
        updateRepeat?.opened();
        await updating;
        expect(await store.getSecretValues(id)).toEqual({ by: "update" });
        expect(fake.states(adapter.nameOf(id)).at(-1)).toBe("ENABLED");
      }
    });

    it("a store whose secret a delete removed before its version succeeds, and the id is missing", async () => {
      const fake = new FakeSecretManager();
      const { store } = storeOn(fake);
      const id = randomUUID();
      const storeAdd = holdNextAdd(fake);
      const storing = store.storeSecretValues(id, { a: "1" });
      await storeAdd.sent;
      await store.deleteSecretValues(id);
      storeAdd.opened();
      await storing;
      await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    });

    it("store, delete, store again: the first store's late version never wins over the second store", async () => {
      for (const lateLandsFirst of [true, false]) {
        const fake = new FakeSecretManager();
        const { adapter, store } = storeOn(fake);
        const id = randomUUID();
        const firstAdd = holdNextAdd(fake);
        const first = store.storeSecretValues(id, { by: "first" });
        await firstAdd.sent;
        await store.deleteSecretValues(id);
        const secondAdd = lateLandsFirst ? holdNextAdd(fake) : undefined;
        const second = store.storeSecretValues(id, { by: "second" });
        if (secondAdd) await secondAdd.sent;
        else await second;
        // The first store's AddSecretVersion lands in the second store's secret.
        firstAdd.opened();
        await first;
        secondAdd?.opened();
        await second;
        await settle();
        expect(await store.getSecretValues(id)).toEqual({ by: "second" });
        expect(fake.states(adapter.nameOf(id)).at(-1)).toBe("ENABLED");
      }
    });
  });

  it("verifyOwnership: never reads, changes or deletes a secret without omnisecret's labels, and does not list it", async () => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake, { halfCreatedGraceMs: 0, verifyOwnership: true });
    const id = randomUUID();
    const name = adapter.nameOf(id);
    await fake.createSecret({ parent: `projects/${PROJECT}`, secretId: adapter.secretIdOf(id), secret: {} });
    await fake.addSecretVersion({ parent: name, payload: { data: Buffer.from('{"foreign":"value"}') } });
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.updateSecretValues(id, { a: "b" })).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.storeSecretValues(id, { a: "b" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    const listed: string[] = [];
    for await (const listedId of store.listSecretIds()) listed.push(listedId);
    expect(listed).toEqual([]);
    expect(fake.states(name)).toEqual(["ENABLED"]);
    // Only its metadata was read: no value accessed, no version added, nothing deleted.
    const touching = fake.calls.filter(
      (call) => call.method !== "addSecretVersion" && String(call.request.name ?? call.request.parent).startsWith(name),
    );
    expect(new Set(touching.map((call) => call.method))).toEqual(new Set(["getSecret"]));
  });

  it("by default, a secret at one of the owner's names is the owner's, labels or not", async () => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake);
    const id = randomUUID();
    const name = adapter.nameOf(id);
    await fake.createSecret({ parent: `projects/${PROJECT}`, secretId: adapter.secretIdOf(id), secret: {} });
    await fake.addSecretVersion({ parent: name, payload: { data: Buffer.from('{"put":"by hand"}') } });
    expect(await store.getSecretValues(id)).toEqual({ put: "by hand" });
  });

  it("keeps another owner's secret under another name, which this owner never reaches", async () => {
    const fake = new FakeSecretManager();
    const mine = storeOn(fake, { owner: "team-a" }, "shared");
    const theirs = storeOn(fake, { owner: "team-b" }, "shared");
    const id = randomUUID();
    await theirs.store.storeSecretValues(id, { team: "b" });
    expect(theirs.adapter.nameOf(id)).toBe(`projects/${PROJECT}/secrets/shared-team-b-${id}`);
    await expect(mine.store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(mine.store.updateSecretValues(id, { team: "a" })).rejects.toMatchObject({
      code: "E_SECRET_NOT_FOUND",
    });
    await expect(mine.store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await mine.store.storeSecretValues(id, { team: "a" });
    expect(await theirs.store.getSecretValues(id)).toEqual({ team: "b" });
    expect(await mine.store.getSecretValues(id)).toEqual({ team: "a" });
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
    const strict = storeOn(fake, { verifyOwnership: true }, "paged");
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
      filter: 'name:"paged-default-"',
    });
    expect(pages[1]?.request.pageToken).toBe("2");
    // Every request of list is a page: nothing per secret.
    expect(new Set(fake.calls.slice(fake.calls.indexOf(pages[0] as never)).map((c) => c.method))).toEqual(
      new Set(["listSecrets"]),
    );

    const strictListed: string[] = [];
    for await (const id of strict.store.listSecretIds()) strictListed.push(id);
    expect(strictListed.sort()).toEqual([...ids].sort());
    expect(fake.calls.at(-1)?.request.filter).toBe(
      'name:"paged-default-" AND labels.managed-by="omnisecret" AND labels.omnisecret-owner="default"',
    );
  });

  it("lists by the secret id alone: Google's answers name the project by its number, not the id configured", async () => {
    const fake = new FakeSecretManager();
    const original = fake.listSecrets.bind(fake);
    fake.listSecrets = async (request) => {
      const answer = await original(request);
      type Secret = Extract<(typeof answer)[number], unknown[]>[number];
      const [page, , response] = answer as [Secret[], null, { nextPageToken: string }];
      const renamed = page.map((secret) => ({
        ...secret,
        name: secret.name.replace(`projects/${PROJECT}/`, "projects/123456789012/"),
      }));
      return [renamed, null, { ...response, secrets: renamed }];
    };
    const { store } = storeOn(fake, {}, "numbered");
    const strict = storeOn(fake, { verifyOwnership: true }, "numbered");
    const otherOwner = storeOn(fake, { owner: "team-b" }, "numbered");
    const ids = [randomUUID(), randomUUID()];
    for (const id of ids) await store.storeSecretValues(id, { id });
    await otherOwner.store.storeSecretValues(randomUUID(), {});
    for (const lister of [store, strict.store]) {
      const listed: string[] = [];
      for await (const id of lister.listSecretIds()) listed.push(id);
      expect(listed.sort()).toEqual([...ids].sort());
    }
  });

  describe("versions (proven here only: the emulator answers UNIMPLEMENTED to ListSecretVersions)", () => {
    /** The values a versioned get of the adapter reads. */
    async function read(adapter: ReturnType<typeof adapterOn>, id: string, version: string) {
      return (await adapter.getSecretValues(id, { version })).values;
    }

    for (const verifyOwnership of [false, true]) {
      it(`keepVersions 2: store A, update B, update C, then a rollback${verifyOwnership ? " (verifyOwnership)" : ""}`, async () => {
        const fake = new FakeSecretManager();
        const { adapter, store } = storeOn(fake, { keepVersions: 2, verifyOwnership });
        const id = randomUUID();
        await store.storeSecretValues(id, { v: "A" });
        await store.updateSecretValues(id, { v: "B" });
        await store.updateSecretValues(id, { v: "C" });
        expect(await read(adapter, id, "latest")).toEqual({ v: "C" });
        expect(await read(adapter, id, "previous")).toEqual({ v: "B" });
        const versions = await adapter.listSecretVersions(id);
        expect(versions.map(({ current, readable }) => ({ current, readable }))).toEqual([
          { current: true, readable: true },
          { current: false, readable: true },
          { current: false, readable: false },
        ]);
        const [c, b, a] = versions.map((version) => version.token) as [string, string, string];
        expect(versions.every((version) => adapter.isVersionToken(version.token))).toBe(true);
        expect(versions[0]?.createdAt.getTime()).toBeGreaterThan(versions[2]?.createdAt.getTime() ?? Infinity);
        expect(await read(adapter, id, c)).toEqual({ v: "C" });
        expect(await read(adapter, id, b)).toEqual({ v: "B" });
        const gone = await read(adapter, id, a).catch((e: unknown) => e);
        expect(gone).toMatchObject({ code: "E_SECRET_NOT_FOUND", secretId: id });
        expect((gone as Error).message).toContain("gone");
        expect(fake.states(adapter.nameOf(id))).toEqual(["DESTROYED", "ENABLED", "ENABLED"]);

        // The rollback the facade makes: read "previous", write it as a new version.
        await store.updateSecretValues(id, await read(adapter, id, "previous"));
        expect(await read(adapter, id, "latest")).toEqual({ v: "B" });
        expect(await read(adapter, id, "previous")).toEqual({ v: "C" });
        expect(await read(adapter, id, c)).toEqual({ v: "C" });
        await expect(read(adapter, id, b)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      });
    }

    it("the requests of each versioned operation", async () => {
      const fake = new FakeSecretManager();
      const { adapter, store } = storeOn(fake, { keepVersions: 2 }, "counted");
      const strict = adapterOn(fake, { keepVersions: 2, verifyOwnership: true }, "counted");
      const id = randomUUID();
      await store.storeSecretValues(id, { v: "A" });
      await store.updateSecretValues(id, { v: "B" });
      const sent = async (body: () => Promise<unknown>) => {
        const before = fake.calls.length;
        await body();
        return fake.calls.slice(before).map((call) => call.method);
      };
      const [token] = (await adapter.listSecretVersions(id)).map((version) => version.token) as [string];
      expect(await sent(() => adapter.listSecretVersions(id))).toEqual(["listSecretVersions", "getSecret"]);
      expect(await sent(() => adapter.getSecretValues(id, { version: token }))).toEqual([
        "accessSecretVersion",
        "getSecret",
      ]);
      expect(await sent(() => adapter.getSecretValues(id, { version: "previous" }))).toEqual([
        "listSecretVersions",
        "accessSecretVersion",
        "getSecret",
      ]);
      expect(fake.calls.at(-3)?.request).toMatchObject({ parent: adapter.nameOf(id), pageSize: 2 });
      expect(await sent(() => strict.getSecretValues(id, { version: token }))).toEqual([
        "getSecret",
        "accessSecretVersion",
        "getSecret",
      ]);
      // keepVersions 1 (the default): no previous version, and nothing asked to learn it.
      const one = adapterOn(fake, {}, "counted");
      let error: unknown;
      expect(
        await sent(() => one.getSecretValues(id, { version: "previous" }).catch((e: unknown) => (error = e))),
      ).toEqual([]);
      expect(error).toMatchObject({ code: "E_SECRET_NOT_FOUND", secretId: id });
      expect((error as Error).message).toContain("keepVersions is 1");
    });

    it("keepVersions 1: an update leaves no earlier version readable", async () => {
      const fake = new FakeSecretManager();
      const { adapter, store } = storeOn(fake);
      const id = randomUUID();
      await store.storeSecretValues(id, { v: "A" });
      const [first] = (await adapter.listSecretVersions(id)).map((version) => version.token) as [string];
      expect(await read(adapter, id, first)).toEqual({ v: "A" });
      await store.updateSecretValues(id, { v: "B" });
      const versions = await adapter.listSecretVersions(id);
      expect(versions.map(({ current, readable }) => [current, readable])).toEqual([
        [true, true],
        [false, false],
      ]);
      await expect(read(adapter, id, first)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      await expect(read(adapter, id, "previous")).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    });

    it("delete and store again: a fresh history, and an old token never reads the new secret's version", async () => {
      const fake = new FakeSecretManager();
      const { adapter, store } = storeOn(fake, { keepVersions: 2 });
      const id = randomUUID();
      await store.storeSecretValues(id, { v: "old 1" });
      await store.updateSecretValues(id, { v: "old 2" });
      const old = (await adapter.listSecretVersions(id)).map((version) => version.token);
      await store.deleteSecretValues(id);
      await expect(adapter.listSecretVersions(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      for (const token of old)
        await expect(read(adapter, id, token)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      await store.storeSecretValues(id, { v: "new 1" });
      await store.updateSecretValues(id, { v: "new 2" });
      const fresh = (await adapter.listSecretVersions(id)).map((version) => version.token);
      expect(fresh).toHaveLength(2);
      // Same version numbers (1 and 2), another incarnation.
      expect(fresh.map((token) => token.split(".")[1])).toEqual(old.map((token) => token.split(".")[1]));
      expect(fresh).not.toEqual(old);
      for (const token of old) {
        const error = await read(adapter, id, token).catch((e: unknown) => e);
        expect(error).toMatchObject({ code: "E_SECRET_NOT_FOUND", secretId: id });
        expect((error as Error).message).toContain("gone");
      }
      expect(await read(adapter, id, fresh[1] as string)).toEqual({ v: "new 1" });
      expect(await read(adapter, id, "previous")).toEqual({ v: "new 1" });
    });

    it("an old token never reads the new secret when a delete and a store land during the read", async () => {
      const fake = new FakeSecretManager();
      const { adapter, store } = storeOn(fake);
      const id = randomUUID();
      await store.storeSecretValues(id, { v: "old" });
      const [token] = (await adapter.listSecretVersions(id)).map((version) => version.token) as [string];
      // The access reads the old secret's version 1, then the secret is deleted and stored again.
      const access = fake.accessSecretVersion.bind(fake);
      fake.accessSecretVersion = async (request) => {
        fake.accessSecretVersion = access;
        const answer = await access(request);
        await store.deleteSecretValues(id);
        await store.storeSecretValues(id, { v: "new" });
        return answer;
      };
      // The value read was the token's, but the secret is not that incarnation any more: gone.
      await expect(read(adapter, id, token)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      // And the other way round: the secret replaced before the access reads version 1 of the new one.
      const [fresh] = (await adapter.listSecretVersions(id)).map((version) => version.token) as [string];
      expect(fresh).not.toBe(token);
      await expect(read(adapter, id, token)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      expect(await read(adapter, id, fresh)).toEqual({ v: "new" });
    });

    it("\"previous\" read while the secret is deleted and stored again is the new secret's, never the old one's", async () => {
      const fake = new FakeSecretManager();
      const { adapter, store } = storeOn(fake, { keepVersions: 2 });
      const id = randomUUID();
      await store.storeSecretValues(id, { v: "old 1" });
      await store.updateSecretValues(id, { v: "old 2" });
      // The list and the access read the old secret; it is replaced before the GetSecret.
      const access = fake.accessSecretVersion.bind(fake);
      fake.accessSecretVersion = async (request) => {
        fake.accessSecretVersion = access;
        const answer = await access(request);
        await store.deleteSecretValues(id);
        await store.storeSecretValues(id, { v: "new 1" });
        await store.updateSecretValues(id, { v: "new 2" });
        return answer;
      };
      expect(await read(adapter, id, "previous")).toEqual({ v: "new 1" });
    });

    it("a server without ListSecretVersions: previous and listSecretVersions are E_NOT_SUPPORTED", async () => {
      const fake = new FakeSecretManager();
      fake.hooks.listSecretVersions = () =>
        Promise.reject(grpcError(Status.UNIMPLEMENTED, "ListSecretVersions is not implemented in mock"));
      const { adapter, store } = storeOn(fake, { keepVersions: 2 });
      const id = randomUUID();
      await store.storeSecretValues(id, { v: "A" });
      await store.updateSecretValues(id, { v: "B" });
      await expect(read(adapter, id, "previous")).rejects.toMatchObject({ code: "E_NOT_SUPPORTED", provider: "gcp" });
      await expect(adapter.listSecretVersions(id)).rejects.toMatchObject({ code: "E_NOT_SUPPORTED" });
    });

    it("shapes of tokens: a version number after the incarnation, nothing else", () => {
      const adapter = adapterOn(new FakeSecretManager());
      expect(adapter.isVersionToken("mabc123.1")).toBe(true);
      expect(adapter.isVersionToken("mabc123.42")).toBe(true);
      for (const bad of ["", "1", ".1", "mabc123.", "mabc123.0", "mabc123.01", "mabc123.latest", "a.1.2", "a.-1"]) {
        expect(adapter.isVersionToken(bad)).toBe(false);
      }
      expect(adapter.isVersionToken(`${"a".repeat(200)}.1`)).toBe(false);
    });

    it("pruneAction disable: the disabled versions are listed, not readable", async () => {
      const fake = new FakeSecretManager();
      const { adapter, store } = storeOn(fake, { keepVersions: 2, pruneAction: "disable" });
      const id = randomUUID();
      await store.storeSecretValues(id, { v: "A" });
      await store.updateSecretValues(id, { v: "B" });
      await store.updateSecretValues(id, { v: "C" });
      const versions = await adapter.listSecretVersions(id);
      expect(versions.map((version) => version.readable)).toEqual([true, true, false]);
      await expect(read(adapter, id, versions[2]?.token as string)).rejects.toMatchObject({
        code: "E_SECRET_NOT_FOUND",
      });
    });
  });

  it("verifyOwnership: deletes with the etag, and checks the labels again when the secret changed in between", async () => {
    const fake = new FakeSecretManager();
    const { adapter, store } = storeOn(fake, { verifyOwnership: true });
    const id = randomUUID();
    await store.storeSecretValues(id, { a: "1" });
    const name = adapter.nameOf(id);
    // Between GetSecret and DeleteSecret, the secret is replaced by a foreign one.
    let replaced = false;
    fake.hooks.deleteSecret = () => {
      if (replaced) return undefined;
      replaced = true;
      fake.secrets.set(name, {
        labels: {},
        replication: {},
        createTime: { seconds: "1", nanos: 0 },
        etag: '"foreign"',
        next: 1,
        versions: new Map(),
      });
      return undefined;
    };
    await expect(store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    expect(fake.secrets.get(name)?.etag).toBe('"foreign"');
    const deletes = fake.calls.filter((call) => call.method === "deleteSecret");
    expect(deletes[0]?.request.etag).toMatch(/^"e\d+"$/);
  });
});
