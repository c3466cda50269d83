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

  it("names the secret <prefix>/<uuid>, stores the map as JSON and tags it with id and owner", async () => {
    const store = await open({ owner: "server-42" });
    const id = randomUUID();
    await store.storeSecretValues(id, { user: "admin" });
    const name = `${store.prefix}/${id}`;
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

  it("never reads, updates, deletes or lists a secret under the prefix without omnisecret's tags", async () => {
    const store = await open();
    const id = randomUUID();
    const name = `${store.prefix}/${id}`;
    await rawClient.send(new CreateSecretCommand({ Name: name, SecretString: '{"foreign":"value"}' }));

    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.updateSecretValues(id, { mine: "now" })).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.storeSecretValues(id, { mine: "now" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    const listed: string[] = [];
    for await (const listedId of store.listSecretIds()) listed.push(listedId);
    expect(listed).toEqual([]);

    const untouched = await rawClient.send(new GetSecretValueCommand({ SecretId: name }));
    expect(untouched.SecretString).toBe('{"foreign":"value"}');
    await rawClient.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
  });

  itTreatsAnotherOwnersSecretAsMissing(open, freshPrefix);

  it("lists every id across several pages", async () => {
    const store = await open({ listPageSize: 2 });
    const ids = Array.from({ length: 7 }, () => randomUUID());
    for (const id of ids) await store.storeSecretValues(id, { id });
    const listed: string[] = [];
    for await (const id of store.listSecretIds()) listed.push(id);
    expect(listed.sort()).toEqual([...ids].sort());
  });

  it("stores again an id whose secret was deleted outside omnisecret with a recovery window", async () => {
    const store = await open();
    const id = randomUUID();
    await store.storeSecretValues(id, { generation: "1" });
    await rawClient.send(new DeleteSecretCommand({ SecretId: `${store.prefix}/${id}`, RecoveryWindowInDays: 7 }));
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.updateSecretValues(id, { generation: "x" })).rejects.toMatchObject({
      code: "E_SECRET_NOT_FOUND",
    });
    await store.storeSecretValues(id, { generation: "2" });
    expect(await store.getSecretValues(id)).toEqual({ generation: "2" });
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
