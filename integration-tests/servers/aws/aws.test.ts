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
import { requestCount } from "../../../bench/lib/counters.js";
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

testContractOnServer("aws", config);

describe("aws adapter against the Secrets Manager API", () => {
  const open = storeOpener(config, () => freshPrefix());
  const idsOf = async (store: SecretStore) => {
    const ids: string[] = [];
    for await (const id of store.listSecretIds()) ids.push(id);
    return ids.sort();
  };
  /** The requests `run` sent, counted on the wire. */
  const requestsOf = async (run: () => Promise<unknown>) => {
    const before = requestCount();
    await run();
    return requestCount() - before;
  };

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
