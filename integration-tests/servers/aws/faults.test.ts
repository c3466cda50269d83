/**
 * The AWS adapter through the fault proxy (see integration-tests/fault-suite.ts). A store whose
 * answer is lost is retried by the SDK with the same ClientRequestToken, and succeeds.
 */
import { randomUUID } from "node:crypto";
import { DeleteSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, describe, expect, it } from "vitest";
import { SecretStore } from "../../../src/index.js";
import { faultProxyOpener, testFaultsOnServer } from "../../fault-suite.js";
import { FaultProxy } from "../../harness/fault-proxy.js";
import { startServer } from "../../harness/index.js";
import { freePort } from "../../harness/process.js";
import { serverConfig } from "../../server-config.js";
import { serverEndpoint } from "../index.js";

const config = serverConfig("aws");

let privatePort: number | undefined;
testFaultsOnServer("aws", config, {
  async startPrivateServer() {
    privatePort ??= await freePort();
    const { OMNISECRET_TEST_AWS_ENDPOINT: _external, ...env } = process.env;
    return startServer("aws", { env: { ...env, OMNISECRET_TEST_AWS_PORT: String(privatePort) } });
  },
});

describe("aws writes whose answer is lost", () => {
  const opened: { proxy: FaultProxy; store: SecretStore }[] = [];
  afterAll(async () => {
    for (const { proxy, store } of opened) {
      await store.close();
      await proxy.close();
    }
  });

  const open = faultProxyOpener("aws", config, "lost");

  it("succeeds when the answer to its create is lost, however the server answers the retry", async () => {
    const { proxy, store } = await open();
    const id = randomUUID();
    proxy.set({ kind: "lose-response", times: 1 });
    // AWS answers the SDK's retry (same ClientRequestToken) with success, LocalStack with
    // ResourceExistsException; the version id (the token) tells the store it made the secret.
    await store.storeSecretValues(id, { v: "mine" });
    expect(proxy.lostResponses).toBe(1);
    expect(await store.getSecretValues(id)).toEqual({ v: "mine" });
  });

  it("still refuses an id someone else stored, when its own answer was lost", async () => {
    const { proxy, store } = await open();
    const id = randomUUID();
    await store.storeSecretValues(id, { owner: "first" });
    proxy.set({ kind: "lose-response", times: 1 });
    await expect(store.storeSecretValues(id, { owner: "second" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    expect(await store.getSecretValues(id)).toEqual({ owner: "first" });
  });

  it("reports a delete whose answer is lost as unavailable, never not found, and frees the id", async () => {
    for (const verifyOwnership of [false, true]) {
      const proxy = await FaultProxy.start(serverEndpoint("aws").of(config));
      // The answer to the deciding DeleteSecret (after strict mode's DescribeSecret) is lost once.
      const client = new SecretsManagerClient({
        region: config.region as string,
        endpoint: `http://127.0.0.1:${proxy.port}`,
        credentials: { ...(config.credentials as { accessKeyId: string; secretAccessKey: string }) },
        maxAttempts: 2,
        requestHandler: { requestTimeout: 1_000, connectionTimeout: 1_000, throwOnRequestTimeout: true },
      });
      const send = client.send.bind(client) as (command: unknown) => Promise<unknown>;
      client.send = (async (command: unknown) => {
        if (command instanceof DeleteSecretCommand && command.input.RecoveryWindowInDays) {
          proxy.set({ kind: "lose-response", times: 1 });
        }
        return send(command);
      }) as typeof client.send;
      const prefix = `lost-${randomUUID().slice(0, 8)}`;
      const store = await SecretStore.create({ ...config, client, prefix, verifyOwnership });
      const direct = await SecretStore.create({ ...config, prefix, verifyOwnership });
      opened.push({ proxy, store }, { proxy: { close: async () => undefined } as FaultProxy, store: direct });
      const id = randomUUID();
      await direct.storeSecretValues(id, { v: "1" });
      // The SDK's retry is told the deletion is already scheduled: by this delete's first attempt
      // or by another delete, which cannot be told apart.
      await expect(store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_PROVIDER_UNAVAILABLE" });
      expect(proxy.lostResponses).toBe(1);
      client.destroy();
      await expect(direct.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      await direct.storeSecretValues(id, { v: "2" });
      expect(await direct.getSecretValues(id)).toEqual({ v: "2" });
    }
  });
});
