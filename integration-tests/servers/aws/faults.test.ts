/**
 * The AWS adapter through the fault proxy (see integration-tests/fault-suite.ts). A store whose
 * answer is lost is retried by the SDK with the same ClientRequestToken, and succeeds.
 */
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { SecretStore } from "../../../src/index.js";
import { FAULT_LIMITS, testFaultsOnServer } from "../../fault-suite.js";
import { FaultProxy } from "../../harness/fault-proxy.js";
import { startServer } from "../../harness/index.js";
import { freePort } from "../../harness/process.js";
import { serverConfig } from "../../server-config.js";

const config = serverConfig("aws");

function endpointOf(server: Record<string, unknown>) {
  const url = new URL(server.endpoint as string);
  return { host: url.hostname, port: Number(url.port) };
}

function rewriteEndpoint(server: Record<string, unknown>, port: number) {
  return { ...server, endpoint: `http://127.0.0.1:${port}` };
}

let privatePort: number | undefined;
testFaultsOnServer("aws", config, {
  endpointOf,
  rewriteEndpoint,
  async startPrivateServer() {
    privatePort ??= await freePort();
    const { OMNISECRET_TEST_AWS_ENDPOINT: _external, ...env } = process.env;
    return startServer("aws", { env: { ...env, OMNISECRET_TEST_AWS_PORT: String(privatePort) } });
  },
});

describe("aws store whose answer is lost", () => {
  const opened: { proxy: FaultProxy; store: SecretStore }[] = [];
  afterAll(async () => {
    for (const { proxy, store } of opened) {
      await store.close();
      await proxy.close();
    }
  });

  it("succeeds when the answer to its create is lost, however the server answers the retry", async () => {
    const proxy = await FaultProxy.start(endpointOf(config));
    const store = await SecretStore.create({
      ...rewriteEndpoint(config, proxy.port),
      ...FAULT_LIMITS,
      prefix: `lost-${randomUUID().slice(0, 8)}`,
    });
    opened.push({ proxy, store });
    const id = randomUUID();
    proxy.set({ kind: "lose-response", times: 1 });
    // AWS answers the SDK's retry (same ClientRequestToken) with success, LocalStack with
    // ResourceExistsException; the version id (the token) tells the store it made the secret.
    await store.storeSecretValues(id, { v: "mine" });
    expect(proxy.lostResponses).toBe(1);
    expect(await store.getSecretValues(id)).toEqual({ v: "mine" });
  });

  it("still refuses an id someone else stored, when its own answer was lost", async () => {
    const proxy = await FaultProxy.start(endpointOf(config));
    const store = await SecretStore.create({
      ...rewriteEndpoint(config, proxy.port),
      ...FAULT_LIMITS,
      prefix: `lost-${randomUUID().slice(0, 8)}`,
    });
    opened.push({ proxy, store });
    const id = randomUUID();
    await store.storeSecretValues(id, { owner: "first" });
    proxy.set({ kind: "lose-response", times: 1 });
    await expect(store.storeSecretValues(id, { owner: "second" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    expect(await store.getSecretValues(id)).toEqual({ owner: "first" });
  });
});
