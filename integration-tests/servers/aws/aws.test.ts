/**
 * The AWS adapter against a real Secrets Manager API: LocalStack 4.14.0, started by the harness
 * in host mode on 127.0.0.1:4566 (or the server named by OMNISECRET_TEST_AWS_ENDPOINT, such as
 * LocalStack in Docker). What LocalStack cannot prove about AWS is listed in localstack/README.md.
 */
import { randomUUID } from "node:crypto";
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { afterAll, describe, expect, it } from "vitest";
import { requestsChosenBy } from "../../../bench/lib/counters.js";
import { SecretStore } from "../../../src/index.js";
import { CLOUD_SDK_PACKAGES, packagesLoadedFor } from "../../../test-support/packages-loaded.js";
import {
  itTreatsAnotherOwnersSecretAsMissing,
  serverConfig,
  storeOpener,
  testContractOnServer,
} from "../../server-config.js";

const config = serverConfig("aws");
const freshPrefix = () => `it-${randomUUID().slice(0, 8)}`;
const rawClient = new SecretsManagerClient({
  region: config.region as string,
  endpoint: config.endpoint as string,
  credentials: { ...(config.credentials as { accessKeyId: string; secretAccessKey: string }) },
});
afterAll(() => rawClient.destroy());

testContractOnServer("aws", config, { versions: { keepVersions: 2 } });

describe("aws adapter against the Secrets Manager API", () => {
  const open = storeOpener(config, () => freshPrefix());
  const idsOf = async (store: SecretStore) => {
    const ids: string[] = [];
    for await (const id of store.listSecretIds()) ids.push(id);
    return ids.sort();
  };
  /** The requests `run` sent, counted on the wire (LocalStack's occasional 500s and their retries left out). */
  const requestsOf = requestsChosenBy;

  it("names the secret <prefix>/<owner>/<uuid>, stores the map as JSON and tags it with id and owner", async () => {
    const store = await open({ owner: "server-42" });
    const id = randomUUID();
    await store.storeSecretValues(id, { user: "admin" });
    const name = `${store.prefix}/server-42/${id}`;
    const described = await rawClient.send(new DescribeSecretCommand({ SecretId: name }));
    expect(described.Tags).toEqual(
      expect.arrayContaining([
        { Key: "omnisecret:id", Value: id },
        { Key: "omnisecret:owner", Value: "server-42" },
      ]),
    );
    const raw = await rawClient.send(new GetSecretValueCommand({ SecretId: name }));
    expect(raw.SecretString).toBe('{"user":"admin"}');
  });

  it("deletes for good and stores the same id again at once", async () => {
    const store = await open();
    const id = randomUUID();
    for (let generation = 1; generation <= 3; generation += 1) {
      await store.storeSecretValues(id, { generation: String(generation) });
      expect(await store.getSecretValues(id)).toEqual({ generation: String(generation) });
      await store.deleteSecretValues(id);
    }
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
  });

  it("by default takes a secret at one of its owner's names as its own, tags or not", async () => {
    const store = await open();
    const id = randomUUID();
    const name = `${store.prefix}/default/${id}`;
    await rawClient.send(new CreateSecretCommand({ Name: name, SecretString: '{"put":"by hand"}' }));

    expect(await store.getSecretValues(id)).toEqual({ put: "by hand" });
    expect(await idsOf(store)).toEqual([id]);
    await expect(store.storeSecretValues(id, { mine: "now" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    await store.updateSecretValues(id, { mine: "now" });
    expect(await store.getSecretValues(id)).toEqual({ mine: "now" });
    await store.deleteSecretValues(id);
    await expect(rawClient.send(new DescribeSecretCommand({ SecretId: name }))).rejects.toMatchObject({
      name: "ResourceNotFoundException",
    });
  });

  it("with verifyOwnership, never reads, updates, deletes or lists a secret at its name without omnisecret's tags", async () => {
    const store = await open({ verifyOwnership: true });
    const id = randomUUID();
    const name = `${store.prefix}/default/${id}`;
    await rawClient.send(new CreateSecretCommand({ Name: name, SecretString: '{"foreign":"value"}' }));

    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.updateSecretValues(id, { mine: "now" })).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.storeSecretValues(id, { mine: "now" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    expect(await idsOf(store)).toEqual([]);

    const untouched = await rawClient.send(new GetSecretValueCommand({ SecretId: name }));
    expect(untouched.SecretString).toBe('{"foreign":"value"}');
    expect(untouched.VersionStages).toEqual(["AWSCURRENT"]);
    await rawClient.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
  });

  itTreatsAnotherOwnersSecretAsMissing(open, freshPrefix);

  it("keeps each owner's secrets under its own name: the same id twice, each owner seeing only its own", async () => {
    const prefix = freshPrefix();
    // "team" is a prefix of "team-a": the name filter ends with a slash, so neither lists the other's.
    const team = await open({ prefix, owner: "team" });
    const teamA = await open({ prefix, owner: "team-a" });
    const id = randomUUID();
    await team.storeSecretValues(id, { team: "plain" });
    await teamA.storeSecretValues(id, { team: "a" });
    const onlyA = randomUUID();
    await teamA.storeSecretValues(onlyA, { team: "a" });

    expect(await team.getSecretValues(id)).toEqual({ team: "plain" });
    expect(await teamA.getSecretValues(id)).toEqual({ team: "a" });
    expect(await idsOf(team)).toEqual([id]);
    expect(await idsOf(teamA)).toEqual([id, onlyA].sort());
    await expect(team.updateSecretValues(onlyA, { x: "y" })).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await team.deleteSecretValues(id);
    expect(await teamA.getSecretValues(id)).toEqual({ team: "a" });
  });

  it("lists every id across several pages", async () => {
    const store = await open({ listPageSize: 2 });
    const ids = Array.from({ length: 7 }, () => randomUUID());
    for (const id of ids) await store.storeSecretValues(id, { id });
    expect(await idsOf(store)).toEqual([...ids].sort());
  });

  it("sends the fewest requests: default 1/1/1/2, strict 1/2/2/3, list one per page", async () => {
    const counts = async (store: SecretStore) => {
      const id = randomUUID();
      return {
        store: await requestsOf(() => store.storeSecretValues(id, { a: "1" })),
        get: await requestsOf(() => store.getSecretValues(id)),
        update: await requestsOf(() => store.updateSecretValues(id, { a: "2" })),
        delete: await requestsOf(() => store.deleteSecretValues(id)),
      };
    };
    const missing = async (store: SecretStore) => {
      const id = randomUUID();
      const notFound = { code: "E_SECRET_NOT_FOUND" };
      return {
        get: await requestsOf(() => expect(store.getSecretValues(id)).rejects.toMatchObject(notFound)),
        update: await requestsOf(() =>
          expect(store.updateSecretValues(id, { a: "1" })).rejects.toMatchObject(notFound),
        ),
        delete: await requestsOf(() => expect(store.deleteSecretValues(id)).rejects.toMatchObject(notFound)),
      };
    };
    const byDefault = await open();
    const strict = await open({ verifyOwnership: true });
    expect(await counts(byDefault)).toEqual({ store: 1, get: 1, update: 1, delete: 2 });
    expect(await counts(strict)).toEqual({ store: 1, get: 2, update: 2, delete: 3 });
    expect(await missing(byDefault)).toEqual({ get: 1, update: 1, delete: 1 });
    expect(await missing(strict)).toEqual({ get: 1, update: 1, delete: 1 });

    const paged = await open({ listPageSize: 2 });
    for (let index = 0; index < 5; index += 1) await paged.storeSecretValues(randomUUID(), { index: String(index) });
    expect(await requestsOf(() => idsOf(paged))).toBe(3);
    const pagedStrict = await open({ prefix: paged.prefix, listPageSize: 2, verifyOwnership: true });
    expect(await requestsOf(() => idsOf(pagedStrict))).toBe(3);
  });

  describe("getManySecretValues", () => {
    /** What per-id gets give for each id: its values, or its error's code. */
    const oneByOne = async (store: SecretStore, ids: readonly string[]) => {
      const results = new Map<string, unknown>();
      for (const id of ids) {
        results.set(
          id,
          await store.getSecretValues(id).then(
            (values) => ({ values }),
            (error: { code: string }) => ({ error: error.code }),
          ),
        );
      }
      return results;
    };
    const asCodes = (results: Map<string, { values: unknown } | { error: { code: string } }>) =>
      new Map([...results].map(([id, result]) => [id, "values" in result ? result : { error: result.error.code }]));

    it("by default reads 45 ids in ceil(45/20) BatchGetSecretValue requests, each id as a get would", async () => {
      const store = await open();
      const ids = Array.from({ length: 45 }, () => randomUUID());
      const nameOf = (id: string) => `${store.prefix}/default/${id}`;
      const [binary, pending, handMade] = [ids[3], ids[17], ids[41]] as [string, string, string];
      const missing = ids.filter((_, index) => index % 7 === 5);
      for (const id of ids) {
        if (missing.includes(id) || id === binary || id === handMade) continue;
        await store.storeSecretValues(id, { id });
      }
      await rawClient.send(new CreateSecretCommand({ Name: nameOf(binary), SecretBinary: new Uint8Array([1, 2, 3]) }));
      await rawClient.send(new CreateSecretCommand({ Name: nameOf(handMade), SecretString: '{"put":"by hand"}' }));
      await rawClient.send(new DeleteSecretCommand({ SecretId: nameOf(pending), RecoveryWindowInDays: 7 }));
      const gone = [...missing, pending];
      const expected = await oneByOne(store, ids);
      expect(expected.get(binary)).toEqual({ error: "E_SECRET_INTEGRITY" });
      expect(expected.get(handMade)).toEqual({ values: { put: "by hand" } });
      for (const id of gone) expect(expected.get(id)).toEqual({ error: "E_SECRET_NOT_FOUND" });

      // Duplicates and other spellings of an id are read once, in the order first given.
      const asked = [...ids, (ids[0] as string).toUpperCase(), ids[1] as string];
      let skipped = new Map();
      expect(
        await requestsOf(async () => (skipped = await store.getManySecretValues(asked, { onMissing: "skip" }))),
      ).toBe(Math.ceil(45 / 20));
      const present = ids.filter((id) => !gone.includes(id));
      expect([...skipped.keys()]).toEqual(present);
      expect(asCodes(skipped)).toEqual(new Map(present.map((id) => [id, expected.get(id)])));

      // onMissing "throw": the first missing id in the order given, after the same requests.
      const firstMissing = ids.find((id) => gone.includes(id));
      expect(
        await requestsOf(() =>
          expect(store.getManySecretValues(ids)).rejects.toMatchObject({
            code: "E_SECRET_NOT_FOUND",
            secretId: firstMissing,
          }),
        ),
      ).toBe(3);
      expect(asCodes(await store.getManySecretValues(present))).toEqual(
        new Map(present.map((id) => [id, expected.get(id)])),
      );
    });

    it("with verifyOwnership reads per id (DescribeSecret, then GetSecretValue), never a foreign value", async () => {
      const store = await open({ verifyOwnership: true });
      const stored = Array.from({ length: 3 }, () => randomUUID());
      const [missing, foreign] = [randomUUID(), randomUUID()];
      for (const id of stored) await store.storeSecretValues(id, { id });
      await rawClient.send(
        new CreateSecretCommand({ Name: `${store.prefix}/default/${foreign}`, SecretString: '{"foreign":"value"}' }),
      );
      const ids = [...stored, missing, foreign];
      let results = new Map();
      // 2 per stored id; 1 for the missing one (DescribeSecret fails); 1 for the foreign one (its tags are wrong).
      expect(
        await requestsOf(async () => (results = await store.getManySecretValues(ids, { onMissing: "skip" }))),
      ).toBe(2 * 3 + 1 + 1);
      expect(asCodes(results)).toEqual(new Map(stored.map((id) => [id, { values: { id } }])));
    });
  });

  it("treats a secret deleted outside omnisecret with a recovery window as not found, and stores its id again", async () => {
    for (const verifyOwnership of [false, true]) {
      const store = await open({ verifyOwnership });
      const id = randomUUID();
      const name = `${store.prefix}/default/${id}`;
      await store.storeSecretValues(id, { generation: "1" });
      await rawClient.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
      await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      await expect(store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      // AWS refuses PutSecretValue on a secret pending deletion; LocalStack 4.14 accepts it (and
      // the secret stays pending), so only strict mode, which checks DescribeSecret first, can be
      // held to not found here.
      if (verifyOwnership) {
        await expect(store.updateSecretValues(id, { generation: "x" })).rejects.toMatchObject({
          code: "E_SECRET_NOT_FOUND",
        });
      }
      expect(await idsOf(store)).toEqual([]);
      await store.storeSecretValues(id, { generation: "2" });
      expect(await store.getSecretValues(id)).toEqual({ generation: "2" });
    }
  });

  it("frees the name of a foreign secret pending deletion by default, and leaves it alone with verifyOwnership", async () => {
    const foreignPendingAt = async (name: string) => {
      await rawClient.send(new CreateSecretCommand({ Name: name, SecretString: '{"foreign":"value"}' }));
      await rawClient.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    };
    const byDefault = await open();
    const id = randomUUID();
    await foreignPendingAt(`${byDefault.prefix}/default/${id}`);
    await byDefault.storeSecretValues(id, { mine: "now" });
    expect(await byDefault.getSecretValues(id)).toEqual({ mine: "now" });

    const strict = await open({ verifyOwnership: true });
    const name = `${strict.prefix}/default/${id}`;
    await foreignPendingAt(name);
    await expect(strict.storeSecretValues(id, { mine: "now" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    const untouched = await rawClient.send(new DescribeSecretCommand({ SecretId: name }));
    expect(untouched.DeletedDate).toBeDefined();
    expect(untouched.Tags ?? []).toEqual([]);
    await rawClient.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
  });

  it("reports a server that does not answer as unavailable", async () => {
    const store = await SecretStore.create({ ...config, endpoint: "http://127.0.0.1:9", maxAttempts: 1 });
    await expect(store.getSecretValues(randomUUID())).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
    // A batch that fails as a whole is every id's failure, not a missing id.
    const ids = [randomUUID(), randomUUID()];
    const results = await store.getManySecretValues(ids);
    expect([...results.keys()]).toEqual(ids);
    for (const result of results.values()) {
      expect(result).toMatchObject({ error: { code: "E_PROVIDER_UNAVAILABLE" } });
    }
    await store.close();
  });

  it("loads the AWS SDK and no other cloud SDK when aws is selected", () => {
    const loaded = packagesLoadedFor(config);
    expect(loaded).toContain("@aws-sdk/client-secrets-manager");
    for (const sdk of CLOUD_SDK_PACKAGES.filter(
      (name) => !name.startsWith("@aws-sdk/") && !name.startsWith("@smithy/"),
    )) {
      expect(loaded).not.toContain(sdk);
    }
    expect(loaded).not.toContain("better-sqlite3");
  });
});
