/**
 * The half-made secret handling (./half-made.ts) on its own, against the in-memory Secret Manager
 * (`fake-secret-manager.test-helper.ts`): what each function decides from what the secret holds,
 * and which requests that takes. gcp.test.ts shows the same through the adapter, racing stores,
 * updates and deletes step by step.
 */
import { describe, expect, it } from "vitest";
import { Status } from "./errors.js";
import { FakeSecretManager, grpcError, PROJECT } from "./fake-secret-manager.test-helper.js";
import {
  freeHalfCreated,
  hasVersion,
  type SecretRequests,
  SuspectIds,
  settleLateVersion,
  updateOverHalfMade,
} from "./half-made.js";

const NAME = `projects/${PROJECT}/secrets/half-made`;
const LABELS = { "managed-by": "omnisecret", "omnisecret-owner": "default", "omnisecret-id": "half-made" };

class Unexpected extends Error {}

/** The requests about `NAME` on the fake, as the adapter sends them (without its retries); the prunes only recorded. */
function requestsOn(fake: FakeSecretManager, pruned: [number, boolean][] = []): SecretRequests {
  const client = fake.asClient();
  return {
    getSecret: async () => (await client.getSecret({ name: NAME }))[0],
    getLatestVersion: () => client.getSecretVersion({ name: `${NAME}/versions/latest` }),
    accessVersion: async (version) =>
      (await client.accessSecretVersion({ name: `${NAME}/versions/${version}` }))[0].payload,
    addVersion: async (data) => {
      const [added] = await client.addSecretVersion({ parent: NAME, payload: { data: Buffer.from(data) } });
      return Number(added.name?.split("/versions/")[1]);
    },
    deleteSecret: (etag) => client.deleteSecret({ name: NAME, ...(etag ? { etag } : {}) }),
    prune: async (version, bestEffort) => {
      pruned.push([version, bestEffort]);
    },
    unexpected: (error) => new Unexpected("unexpected", { cause: error }),
  };
}

async function create(fake: FakeSecretManager, versions: readonly string[] = []) {
  const client = fake.asClient();
  const [secret] = await client.createSecret({
    parent: `projects/${PROJECT}`,
    secretId: "half-made",
    secret: { labels: LABELS },
  });
  for (const value of versions) await client.addSecretVersion({ parent: NAME, payload: { data: Buffer.from(value) } });
  return secret;
}

/** The value of the secret's latest version. */
async function latestValue(fake: FakeSecretManager): Promise<string> {
  const [latest] = await fake.asClient().accessSecretVersion({ name: `${NAME}/versions/latest` });
  return Buffer.from(latest.payload?.data as Uint8Array).toString("utf8");
}

const methods = (fake: FakeSecretManager) => fake.calls.map((call) => call.method);

describe("SuspectIds", () => {
  it("remembers ids until resolved, and forgets the oldest beyond its bound", () => {
    const suspects = new SuspectIds(2);
    suspects.add("a");
    suspects.add("b");
    suspects.resolved("a");
    expect([suspects.has("a"), suspects.has("b")]).toEqual([false, true]);
    suspects.add("c");
    suspects.add("d");
    expect(["b", "c", "d"].map((id) => suspects.has(id))).toEqual([false, true, true]);
  });
});

describe("hasVersion", () => {
  it("is true for a secret with a version, disabled or destroyed ones included", async () => {
    const fake = new FakeSecretManager();
    await create(fake, ["1"]);
    expect(await hasVersion(requestsOn(fake))).toBe(true);
    await fake.destroySecretVersion({ name: `${NAME}/versions/1` });
    expect(await hasVersion(requestsOn(fake))).toBe(true);
  });

  it("is false for a secret without a version, or none", async () => {
    const fake = new FakeSecretManager();
    expect(await hasVersion(requestsOn(fake))).toBe(false);
    await create(fake);
    expect(await hasVersion(requestsOn(fake))).toBe(false);
  });

  it("reports any other failure as the adapter does", async () => {
    const fake = new FakeSecretManager();
    fake.hooks.getSecretVersion = () => Promise.reject(grpcError(Status.PERMISSION_DENIED, "denied"));
    await expect(hasVersion(requestsOn(fake))).rejects.toBeInstanceOf(Unexpected);
  });
});

describe("freeHalfCreated", () => {
  const ours = () => true;

  it("is true when the secret is gone, with one GetSecret", async () => {
    const fake = new FakeSecretManager();
    expect(await freeHalfCreated(requestsOn(fake), { graceMs: 0, ours })).toBe(true);
    expect(methods(fake)).toEqual(["getSecret"]);
  });

  it("is false for a secret with a version, which is left as it is", async () => {
    const fake = new FakeSecretManager();
    await create(fake, ["1"]);
    fake.calls.length = 0;
    expect(await freeHalfCreated(requestsOn(fake), { graceMs: 0, ours })).toBe(false);
    expect(methods(fake)).toEqual(["getSecret", "getSecretVersion"]);
  });

  it("is false for a secret that is not ours, without looking further", async () => {
    const fake = new FakeSecretManager();
    await create(fake);
    fake.calls.length = 0;
    expect(await freeHalfCreated(requestsOn(fake), { graceMs: 0, ours: () => false })).toBe(false);
    expect(methods(fake)).toEqual(["getSecret"]);
    expect(fake.secrets.has(NAME)).toBe(true);
  });

  it("deletes a secret still without a version once the grace period is over, with its etag", async () => {
    const fake = new FakeSecretManager();
    const secret = await create(fake);
    fake.calls.length = 0;
    expect(await freeHalfCreated(requestsOn(fake), { graceMs: 0, ours })).toBe(true);
    expect(fake.secrets.has(NAME)).toBe(false);
    expect(fake.calls.at(-1)).toEqual({ method: "deleteSecret", request: { name: NAME, etag: secret.etag } });
  });

  it("is false when the secret gets a version during the grace period: another store won", async () => {
    const fake = new FakeSecretManager();
    await create(fake);
    setTimeout(() => void fake.addSecretVersion({ parent: NAME, payload: { data: Buffer.from("won") } }), 100);
    expect(await freeHalfCreated(requestsOn(fake), { graceMs: 5_000, ours })).toBe(false);
    expect(fake.secrets.has(NAME)).toBe(true);
  });

  it("is false when the secret changed after GetSecret (its etag moved on)", async () => {
    const fake = new FakeSecretManager();
    await create(fake);
    fake.hooks.deleteSecret = () => Promise.reject(grpcError(Status.FAILED_PRECONDITION, "etag mismatch"));
    expect(await freeHalfCreated(requestsOn(fake), { graceMs: 0, ours })).toBe(false);
  });
});

describe("updateOverHalfMade", () => {
  it("adds the payload once more and prunes version 1 where the usual prune would not take it", async () => {
    for (const [keepVersions, prunes] of [
      [1, []],
      [2, [[1, false]]],
    ] as const) {
      const fake = new FakeSecretManager();
      await create(fake, ["update"]);
      const pruned: [number, boolean][] = [];
      expect(await updateOverHalfMade(requestsOn(fake, pruned), "update", keepVersions)).toBe(2);
      expect(pruned).toEqual(prunes);
    }
  });

  it('answers "deleted" when the secret was deleted since', async () => {
    const fake = new FakeSecretManager();
    expect(await updateOverHalfMade(requestsOn(fake), "update", 1)).toBe("deleted");
  });
});

describe("settleLateVersion", () => {
  it("leaves the store's version 2 as it is in the secret it created: version 1 was an update", async () => {
    const fake = new FakeSecretManager();
    const created = await create(fake, ["update", "store"]);
    fake.calls.length = 0;
    await settleLateVersion(requestsOn(fake), created, 2);
    expect(methods(fake)).toEqual(["getSecret"]);
  });

  it("copies the version before the store's on top of it, and prunes the store's, when more came first", async () => {
    const fake = new FakeSecretManager();
    const created = await create(fake, ["update 1", "update 2", "store"]);
    const pruned: [number, boolean][] = [];
    await settleLateVersion(requestsOn(fake, pruned), created, 3);
    expect(await latestValue(fake)).toBe("update 2");
    expect(pruned).toEqual([[3, true]]);
  });

  it("copies when the secret was replaced since the store created it, even at version 2", async () => {
    const fake = new FakeSecretManager();
    const created = await create(fake);
    fake.secrets.delete(NAME);
    await create(fake, ["other", "store"]);
    await settleLateVersion(requestsOn(fake), created, 2);
    expect(await latestValue(fake)).toBe("other");
  });

  it("stops when the secret was deleted since", async () => {
    const fake = new FakeSecretManager();
    const created = await create(fake, ["update", "update", "store"]);
    fake.secrets.delete(NAME);
    await settleLateVersion(requestsOn(fake), created, 3);
  });
});
