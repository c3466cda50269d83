/**
 * The Vault adapter over https: an OpenBao dev server of this file's own in `-dev-tls` mode,
 * which generates a CA and a certificate for 127.0.0.1; the config names that CA as
 * `caCertFile`. TLS stays verified: without the CA, or with another one, the adapter refuses
 * the server with a config error instead of talking to it.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionCount, requestCount, requestsChosenBy } from "../../../bench/lib/counters.js";
import {
  createAdapterFromConfig,
  type SecretStore,
  type SecretStoreError,
  SecretStore as Store,
} from "../../../src/index.js";
import { testSecretsAdapter } from "../../../src/testing/index.js";
import { httpsAgentKeyLengths } from "../../../test-support/agent-keys.js";
import { withEnvVariable } from "../../../test-support/env.js";
import { type RunningServer, startServer, stopServers } from "../../harness/index.js";
import { freePort } from "../../harness/process.js";
import { serverConfig } from "../../server-config.js";

// Fails loudly, as every vault test file does, when the run left vault out.
serverConfig("vault");

const tlsDir = mkdtempSync(join(tmpdir(), "omnisecret-vault-tls-"));
let server: RunningServer | undefined;
let config: Record<string, unknown> = {};

beforeAll(async () => {
  const { OMNISECRET_TEST_VAULT_ADDR: _external, ...env } = process.env;
  server = await startServer("vault", {
    env: { ...env, OMNISECRET_TEST_VAULT_PORT: String(await freePort()), OMNISECRET_TEST_VAULT_TLS_DIR: tlsDir },
  });
  config = server.config;
});

afterAll(async () => {
  if (server) await stopServers([server]);
  rmSync(tlsDir, { recursive: true, force: true });
});

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (error: SecretStoreError) => error,
  );

const stores: SecretStore[] = [];
afterAll(async () => {
  for (const store of stores) await store.close();
});
async function open(overrides: Record<string, unknown> = {}): Promise<SecretStore> {
  const store = await Store.create({ ...config, prefix: `tls-${randomUUID().slice(0, 8)}`, ...overrides });
  stores.push(store);
  return store;
}

// The contract over https; the config is read when its tests run, after beforeAll started the server.
testSecretsAdapter("vault over https with caCertFile", {
  createAdapter: async ({ prefix }) => (await createAdapterFromConfig({ ...config, prefix })).adapter,
});

describe("vault adapter over https", () => {
  it("serves https with the CA named in caCertFile", () => {
    expect(config.address).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(config.caCertFile).toBe(join(tlsDir, "vault-ca.pem"));
  });

  it("stores, reads, replaces and deletes over https, trusting caCertFile", async () => {
    const store = await open();
    const id = randomUUID();
    await store.storeSecretValues(id, { tls: "one" });
    await store.updateSecretValues(id, { tls: "two" });
    expect(await store.getSecretValues(id)).toEqual({ tls: "two" });
    await store.deleteSecretValues(id);
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
  });

  it("fails with a clear E_CONFIG error on a certificate it does not trust", async () => {
    const store = await open({ caCertFile: undefined });
    const before = requestCount();
    const error = await failure(store.getSecretValues(randomUUID()));
    expect(error).toMatchObject({ code: "E_CONFIG", field: "caCertFile" });
    expect(error.message).toMatch(/TLS certificate is not trusted .*caCertFile/);
    // A certificate problem does not pass with time: one attempt, no retries.
    expect(requestCount() - before).toBe(1);
  });

  it("still verifies the certificate with caCertFile: a CA that did not issue it is E_CONFIG", async () => {
    const otherCa = join(tlsDir, "other-ca.pem");
    writeFileSync(otherCa, rootCertificates[0] as string);
    const store = await open({ caCertFile: otherCa });
    const error = await failure(store.getSecretValues(randomUUID()));
    expect(error).toMatchObject({ code: "E_CONFIG", field: "caCertFile" });
  });

  it("trusts NODE_EXTRA_CA_CERTS beside caCertFile: the server's CA there, another CA in caCertFile (issue 22)", async () => {
    const otherCa = join(tlsDir, "other-ca.pem");
    writeFileSync(otherCa, rootCertificates[0] as string);
    // Read when the adapter builds its client, as Node reads it at startup for its own CAs.
    const store = await withEnvVariable("NODE_EXTRA_CA_CERTS", config.caCertFile as string, () =>
      open({ caCertFile: otherCa }),
    );
    const id = randomUUID();
    await store.storeSecretValues(id, { extra: "ca" });
    expect(await store.getSecretValues(id)).toEqual({ extra: "ca" });
    await store.deleteSecretValues(id);
  });

  it("keeps its connections alive across operations, and caCertFile's CAs out of the agent's per-request key", async () => {
    // node-vault turns a `ca` request option into an agent without keep-alive (a handshake per
    // request), and Node's agent joins its `ca` (the system's CAs and the file) into the key it
    // computes for every request.
    const store = await open();
    // The first store reads the mount's config beside its write: two connections, kept open.
    await store.storeSecretValues(randomUUID(), { tls: "first" });
    const connectionsBefore = connectionCount();
    let requests = 0;
    const keyLengths = await httpsAgentKeyLengths(async () => {
      requests = await requestsChosenBy(async () => {
        const id = randomUUID();
        await store.storeSecretValues(id, { tls: "one" });
        for (let round = 0; round < 5; round += 1) {
          await store.updateSecretValues(id, { tls: `round ${round}` });
          await store.getSecretValues(id);
        }
        await store.deleteSecretValues(id);
      });
    });
    // A store, 5 updates (2 each), 5 gets, a delete (3: the read, the tombstone, its destroy): 19.
    expect(requests).toBe(19);
    expect(keyLengths.length).toBeGreaterThanOrEqual(requests);
    expect(Math.max(...keyLengths)).toBeLessThan(1_000);
    const connections = connectionCount() - connectionsBefore;
    expect(connections).toBe(0);
  });
});
