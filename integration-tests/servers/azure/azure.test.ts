/**
 * The Azure adapter against a Key Vault API: the project's own test server (`keyvault/`), started
 * by the harness, or a vault named by OMNISECRET_TEST_AZURE_VAULT_URL (such as Lowkey Vault). The
 * tests that inject faults, count requests or switch purge protection need the project's server
 * and its control API; against another vault they fail saying so.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import https from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { rootCertificates } from "node:tls";
import { inspect } from "node:util";
import { ClientSecretCredential, type TokenCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { SecretStoreError } from "../../../src/index.js";
import { markedSecretValue, valuesOfSerializedSize } from "../../../src/testing/index.js";
import { CLOUD_SDK_PACKAGES, packagesLoadedFor } from "../../../test-support/packages-loaded.js";
import {
  itTreatsAnotherOwnersSecretAsMissing,
  serverConfig,
  storeOpener,
  testContractOnServer,
} from "../../server-config.js";
import { type AzureTestServerInfo, testServerInfo } from "./server.js";

const config = serverConfig("azure");
const vaultUrl = config.vaultUrl as string;
const caCertFile = config.caCertFile as string | undefined;
const caPem = caCertFile ? readFileSync(caCertFile, "utf8") : undefined;
const tlsOptions = caPem ? { tlsOptions: { ca: [...rootCertificates, caPem] } } : {};
const info = testServerInfo(config);
const freshPrefix = () => `it-${randomUUID().slice(0, 8)}`;

function serverInfo(): AzureTestServerInfo {
  if (!info)
    throw new Error("this test needs the project's Key Vault test server (its control API), not an external vault");
  return info;
}

/** A plain SDK client with the config's credential, for looking behind the adapter's back. */
function rawClient(credential?: TokenCredential): SecretClient {
  const secret = config.credential as {
    tenantId: string;
    clientId: string;
    clientSecret: string;
    authorityHost?: string;
  };
  const chosen =
    credential ??
    new ClientSecretCredential(secret.tenantId, secret.clientId, secret.clientSecret, {
      ...(secret.authorityHost ? { authorityHost: secret.authorityHost, disableInstanceDiscovery: true } : {}),
      ...tlsOptions,
    });
  return new SecretClient(vaultUrl, chosen, {
    disableChallengeResourceVerification: config.disableChallengeResourceVerification === true,
    ...tlsOptions,
  });
}
const raw = info ? rawClient() : undefined;
function rawSdk(): SecretClient {
  if (!raw) throw new Error("this test needs the project's Key Vault test server's client credentials");
  return raw;
}

/** A call to the test server's control API. */
function control(method: string, path: string, body?: unknown): Promise<unknown> {
  const url = new URL(`${serverInfo().controlUrl}${path}`);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = https.request(
      url,
      {
        method,
        ca: caPem,
        headers: payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {},
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if ((response.statusCode ?? 500) >= 300)
            reject(new Error(`control ${method} ${path}: ${response.statusCode} ${text}`));
          else resolve(text ? JSON.parse(text) : undefined);
        });
      },
    );
    request.on("error", reject);
    request.end(payload);
  });
}

interface LoggedRequest {
  method: string;
  path: string;
  status: number | "dropped";
  listener: "vault" | "identity";
}

async function loggedRequests(): Promise<LoggedRequest[]> {
  return ((await control("GET", "/requests")) as { requests: LoggedRequest[] }).requests;
}

/** The secrets API requests sent since the log was cleared, as "METHOD /path status". */
async function secretRequests(): Promise<string[]> {
  return (await loggedRequests())
    .filter((entry) => entry.listener === "vault" && /^\/(deleted)?secrets/i.test(entry.path))
    .map((entry) => `${entry.method} ${entry.path.toLowerCase()} ${entry.status}`);
}

async function measure(run: () => Promise<unknown>): Promise<string[]> {
  await control("DELETE", "/requests");
  await run();
  return secretRequests();
}

async function failure(promise: Promise<unknown>): Promise<SecretStoreError> {
  return promise.then(
    () => {
      throw new Error("expected the operation to fail");
    },
    (error: unknown) => error as SecretStoreError,
  );
}

testContractOnServer("azure", config);

describe("azure adapter against the Key Vault API", () => {
  const open = storeOpener(config, freshPrefix);

  afterEach(async () => {
    if (info) await control("DELETE", "/faults");
  });

  it("names the secret <prefix>-<uuid>, stores the map as JSON (application/json) and tags it", async () => {
    const store = await open({ owner: "server-42" });
    const id = randomUUID();
    await store.storeSecretValues(id, { user: "admin" });
    const secret = await rawSdk().getSecret(`${store.prefix}-${id}`);
    expect(secret.value).toBe('{"user":"admin"}');
    expect(secret.properties.contentType).toBe("application/json");
    expect(secret.properties.tags).toEqual({
      "managed-by": "omnisecret",
      "omnisecret-id": id,
      "omnisecret-owner": "server-42",
    });
  });

  it("sends 2 requests to store, 1 to get, 3 to update and 4 or more to delete", async () => {
    const store = await open();
    const id = randomUUID();
    // The client's first request gets the 401 challenge; warm it up first.
    await failure(store.getSecretValues(randomUUID()));
    const name = `/secrets/${store.prefix}-${id}`.toLowerCase();
    const deleted = `/deletedsecrets/${store.prefix}-${id}`.toLowerCase();

    expect(await measure(() => store.storeSecretValues(id, { v: "1" }))).toEqual([
      `GET ${name}/ 404`,
      `PUT ${name} 200`,
    ]);
    expect(await measure(() => store.getSecretValues(id))).toEqual([`GET ${name}/ 200`]);
    const update = await measure(() => store.updateSecretValues(id, { v: "2" }));
    expect(update).toHaveLength(3);
    expect(update.slice(0, 2)).toEqual([`GET ${name}/ 200`, `PUT ${name} 200`]);
    expect(update[2]).toMatch(new RegExp(`^PATCH ${name}/[0-9a-f]+ 200$`));

    const deletion = await measure(() => store.deleteSecretValues(id));
    expect(deletion[0]).toBe(`GET ${name}/ 200`);
    expect(deletion[1]).toBe(`DELETE ${name} 200`);
    // The deleted secret shows after the server's delay: the poller looked until it did.
    const polls = deletion.slice(2, -1);
    expect(polls.length).toBeGreaterThanOrEqual(1);
    expect(polls.at(-1)).toBe(`GET ${deleted} 200`);
    for (const poll of polls.slice(0, -1)) expect(poll).toBe(`GET ${deleted} 404`);
    expect(deletion.at(-1)).toBe(`DELETE ${deleted} 204`);
  });

  it("disables the version an update replaced, unless pruneAction is none", async () => {
    for (const [pruneAction, oldEnabled] of [
      ["disable", false],
      ["none", true],
    ] as const) {
      const store = await open({ pruneAction });
      const id = randomUUID();
      await store.storeSecretValues(id, { password: "old" });
      await store.updateSecretValues(id, { password: "new" });
      const versions = [];
      for await (const version of rawSdk().listPropertiesOfSecretVersions(`${store.prefix}-${id}`))
        versions.push(version);
      expect(versions).toHaveLength(2);
      const current = await rawSdk().getSecret(`${store.prefix}-${id}`);
      const old = versions.find((version) => version.version !== current.properties.version);
      expect(old?.enabled, pruneAction).toBe(oldEnabled);
      expect(await store.getSecretValues(id)).toEqual({ password: "new" });
    }
  });

  it("deletes with purge and stores the same id again at once, retrying while Key Vault still holds the name (409)", async () => {
    const store = await open();
    const id = randomUUID();
    const name = `/secrets/${store.prefix}-${id}`.toLowerCase();
    for (let generation = 1; generation <= 3; generation += 1) {
      await store.storeSecretValues(id, { generation: String(generation) });
      expect(await store.getSecretValues(id)).toEqual({ generation: String(generation) });
      await store.deleteSecretValues(id);
    }
    await control("DELETE", "/requests");
    await store.storeSecretValues(id, { generation: "4" });
    const puts = (await secretRequests()).filter((request) => request.startsWith(`PUT ${name} `));
    // The purge just before leaves the name blocked for a while: the first set meets 409, a later one succeeds.
    expect(puts[0]).toBe(`PUT ${name} 409`);
    expect(puts.at(-1)).toBe(`PUT ${name} 200`);
    expect(await store.getSecretValues(id)).toEqual({ generation: "4" });
    await expect(rawSdk().getDeletedSecret(`${store.prefix}-${id}`)).rejects.toMatchObject({ statusCode: 404 });
  });

  describe("on a purge-protected vault", () => {
    afterEach(async () => {
      await control("POST", "/config", { purgeProtected: false });
    });

    it("deletes with soft, and a store of the same id recovers it and writes a new version", async () => {
      await control("POST", "/config", { purgeProtected: true });
      const store = await open({ deletePolicy: "soft" });
      const id = randomUUID();
      const name = `${store.prefix}-${id}`;
      await store.storeSecretValues(id, { generation: "1" });
      await store.deleteSecretValues(id);
      await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      expect((await rawSdk().getDeletedSecret(name)).properties.recoveryLevel).toBe("Recoverable");
      await store.storeSecretValues(id, { generation: "2" });
      expect(await store.getSecretValues(id)).toEqual({ generation: "2" });
      // The recovered version held the deleted secret's values: it is disabled.
      const versions = [];
      for await (const version of rawSdk().listPropertiesOfSecretVersions(name)) versions.push(version);
      expect(versions.filter((version) => version.enabled !== false)).toHaveLength(1);
      await expect(store.storeSecretValues(id, { generation: "3" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    });

    it("with the purge policy, leaves a secret it may not purge soft-deleted and still stores its id again", async () => {
      await control("POST", "/config", { purgeProtected: true });
      const store = await open();
      const id = randomUUID();
      await store.storeSecretValues(id, { generation: "1" });
      await store.deleteSecretValues(id);
      await store.storeSecretValues(id, { generation: "2" });
      expect(await store.getSecretValues(id)).toEqual({ generation: "2" });
    });
  });

  it("leaves a foreign deleted-but-recoverable secret alone: E_SECRET_EXISTS, not purged, not recovered", async () => {
    const store = await open();
    const id = randomUUID();
    const name = `${store.prefix}-${id}`;
    await rawSdk().setSecret(name, '{"foreign":"value"}', {
      tags: { "omnisecret-id": id, "omnisecret-owner": "someone-else" },
    });
    await (await rawSdk().beginDeleteSecret(name, { intervalInMs: 100 })).pollUntilDone();
    await expect(store.storeSecretValues(id, { mine: "now" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    const deleted = await rawSdk().getDeletedSecret(name);
    expect(deleted.properties.tags).toMatchObject({ "omnisecret-owner": "someone-else" });
    await expect(rawSdk().getSecret(name)).rejects.toMatchObject({ statusCode: 404 });
    await rawSdk().purgeDeletedSecret(name);
  });

  it("stores again an id whose own secret was soft-deleted outside omnisecret (purging it first)", async () => {
    const store = await open();
    const id = randomUUID();
    const name = `${store.prefix}-${id}`;
    await store.storeSecretValues(id, { generation: "1" });
    await (await rawSdk().beginDeleteSecret(name, { intervalInMs: 100 })).pollUntilDone();
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.updateSecretValues(id, { generation: "x" })).rejects.toMatchObject({
      code: "E_SECRET_NOT_FOUND",
    });
    await store.storeSecretValues(id, { generation: "2" });
    expect(await store.getSecretValues(id)).toEqual({ generation: "2" });
    const versions = [];
    for await (const version of rawSdk().listPropertiesOfSecretVersions(name)) versions.push(version);
    expect(versions).toHaveLength(1);
  });

  it("never reads, updates, deletes or lists a secret under the prefix without omnisecret's tags", async () => {
    const store = await open();
    const id = randomUUID();
    const name = `${store.prefix}-${id}`;
    await rawSdk().setSecret(name, '{"foreign":"value"}');
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.updateSecretValues(id, { mine: "now" })).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.deleteSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await expect(store.storeSecretValues(id, { mine: "now" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    const listed: string[] = [];
    for await (const listedId of store.listSecretIds()) listed.push(listedId);
    expect(listed).toEqual([]);
    const untouched = await rawSdk().getSecret(name);
    expect(untouched.value).toBe('{"foreign":"value"}');
    const versions = [];
    for await (const version of rawSdk().listPropertiesOfSecretVersions(name)) versions.push(version);
    expect(versions).toHaveLength(1);
  });

  itTreatsAnotherOwnersSecretAsMissing(open, freshPrefix);

  it("lists every id across several pages", async () => {
    const store = await open({ listPageSize: 2 });
    const ids = Array.from({ length: 7 }, () => randomUUID());
    for (const id of ids) await store.storeSecretValues(id, { id });
    await control("DELETE", "/requests");
    const listed: string[] = [];
    for await (const id of store.listSecretIds()) listed.push(id);
    expect(listed.sort()).toEqual([...ids].sort());
    const pages = (await secretRequests()).filter((request) => /^GET \/secrets 200$/.test(request));
    expect(pages.length).toBeGreaterThanOrEqual(4);
  });

  it("stores values of exactly 25,600 bytes, and the server itself refuses one byte more", async () => {
    const store = await open();
    expect(store.maxValueBytes).toBe(25_600);
    const id = randomUUID();
    const atLimit = valuesOfSerializedSize(25_600);
    await store.storeSecretValues(id, atLimit);
    const stored = await rawSdk().getSecret(`${store.prefix}-${id}`);
    expect(Buffer.byteLength(stored.value as string, "utf8")).toBe(25_600);
    expect(await store.getSecretValues(id)).toEqual(atLimit);
    await expect(store.storeSecretValues(randomUUID(), valuesOfSerializedSize(25_601))).rejects.toMatchObject({
      code: "E_SECRET_TOO_LARGE",
    });
    await expect(
      rawSdk().setSecret(`${store.prefix}-${randomUUID()}`, JSON.stringify(valuesOfSerializedSize(25_601))),
    ).rejects.toMatchObject({ statusCode: 400, code: "BadParameter" });
  });

  describe("faults injected by the test server", () => {
    it("retries a 429 with Retry-After and a 500, then gives E_PROVIDER_UNAVAILABLE when they persist", async () => {
      const store = await open({ maxAttempts: 3 });
      const id = randomUUID();
      await store.storeSecretValues(id, { v: "1" });
      const pathPrefix = `/secrets/${store.prefix}-${id}`;

      await control("POST", "/faults", {
        kind: "status",
        status: 429,
        retryAfterSeconds: 0,
        count: 2,
        method: "GET",
        pathPrefix,
      });
      expect(await measure(() => store.getSecretValues(id))).toHaveLength(3);
      await control("POST", "/faults", { kind: "status", status: 500, count: 1, method: "GET", pathPrefix });
      expect(await store.getSecretValues(id)).toEqual({ v: "1" });

      for (const status of [429, 500]) {
        await control("POST", "/faults", { kind: "status", status, retryAfterSeconds: 0, count: 3, pathPrefix });
        const error = await failure(store.updateSecretValues(id, { v: "2" }));
        expect(error.code, String(status)).toBe("E_PROVIDER_UNAVAILABLE");
        expect(error.message).toContain(String(status));
      }
      expect(await store.getSecretValues(id)).toEqual({ v: "1" });
    });

    it("retries a dropped connection, and gives up at operationTimeoutMs on a server that does not answer", async () => {
      const store = await open({ maxAttempts: 3, requestTimeoutMs: 1_000, operationTimeoutMs: 2_500 });
      const id = randomUUID();
      await store.storeSecretValues(id, { v: "1" });
      const pathPrefix = `/secrets/${store.prefix}-${id}`;
      await control("POST", "/faults", { kind: "drop", count: 1, pathPrefix });
      expect(await store.getSecretValues(id)).toEqual({ v: "1" });
      await control("POST", "/faults", { kind: "delay", delayMs: 5_000, count: 1, pathPrefix });
      const started = performance.now();
      const error = await failure(store.getSecretValues(id));
      expect(error.code).toBe("E_PROVIDER_UNAVAILABLE");
      expect(performance.now() - started).toBeLessThan(4_000);
    });
  });

  describe("authentication", () => {
    it("signs in with the client secret flow against the server's token endpoint", async () => {
      const store = await open();
      await control("DELETE", "/requests");
      await failure(store.getSecretValues(randomUUID()));
      const token = (await loggedRequests()).filter((entry) => /\/oauth2\/v2\.0\/token$/.test(entry.path));
      expect(token.map((entry) => `${entry.method} ${entry.status}`)).toEqual(["POST 200"]);
    });

    it("signs in with managed identity (App Service) through DefaultAzureCredential", async () => {
      const { identityEndpoint, identityHeader } = serverInfo();
      const saved = { IDENTITY_ENDPOINT: process.env.IDENTITY_ENDPOINT, IDENTITY_HEADER: process.env.IDENTITY_HEADER };
      process.env.IDENTITY_ENDPOINT = identityEndpoint;
      process.env.IDENTITY_HEADER = identityHeader;
      try {
        const store = await open({ credential: undefined });
        await control("DELETE", "/requests");
        const id = randomUUID();
        await store.storeSecretValues(id, { via: "managed identity" });
        expect(await store.getSecretValues(id)).toEqual({ via: "managed identity" });
        const identity = (await loggedRequests()).filter((entry) => entry.listener === "identity");
        expect(identity.map((entry) => `${entry.method} ${entry.path} ${entry.status}`)).toContain(
          "GET /msi/token 200",
        );
      } finally {
        for (const [name, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
      }
    });

    it("reports a wrong client secret as E_PERMISSION_DENIED, never echoing it", async () => {
      const wrong = `wrong-${randomUUID()}`;
      const store = await open({ credential: { ...(config.credential as object), clientSecret: wrong } });
      const error = await failure(store.getSecretValues(randomUUID()));
      expect(error.code).toBe("E_PERMISSION_DENIED");
      expect(inspect(error, { depth: 20, showHidden: true })).not.toContain(wrong);
    });

    it("reports an unknown token as E_PERMISSION_DENIED", async () => {
      const forged: TokenCredential = {
        getToken: async () => ({ token: "eyJmb3JnZWQiOnRydWV9.e30.c2ln", expiresOnTimestamp: Date.now() + 3_600_000 }),
      };
      const store = await open({ credential: forged });
      expect((await failure(store.getSecretValues(randomUUID()))).code).toBe("E_PERMISSION_DENIED");
    });

    it("reports an expired token as E_PERMISSION_DENIED", async () => {
      const lifetime = (await control("GET", "/config")) as { tokenLifetimeSeconds: number };
      await control("POST", "/config", { tokenLifetimeSeconds: 1 });
      let token: string;
      try {
        const secret = config.credential as {
          tenantId: string;
          clientId: string;
          clientSecret: string;
          authorityHost: string;
        };
        const issued = await new ClientSecretCredential(secret.tenantId, secret.clientId, secret.clientSecret, {
          authorityHost: secret.authorityHost,
          disableInstanceDiscovery: true,
          ...tlsOptions,
        }).getToken("https://vault.azure.net/.default");
        token = issued.token;
      } finally {
        await control("POST", "/config", { tokenLifetimeSeconds: lifetime.tokenLifetimeSeconds });
      }
      // A credential that keeps handing out the token after it expired, as a stale cache would.
      const stale: TokenCredential = { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) };
      const store = await open({ credential: stale });
      await sleep(1_500);
      expect((await failure(store.getSecretValues(randomUUID()))).code).toBe("E_PERMISSION_DENIED");
    });

    it("fails with a clear E_CONFIG error on a certificate it does not trust", async () => {
      const store = await open({ caCertFile: undefined });
      const error = await failure(store.getSecretValues(randomUUID()));
      expect(error).toMatchObject({ code: "E_CONFIG", field: "caCertFile" });
      expect(error.message).toMatch(/certificate is not trusted .*caCertFile/);
    });
  });

  it("puts no value into any error or cause, whatever fails", async () => {
    const secret = markedSecretValue();
    const store = await open({ maxAttempts: 2 });
    const id = randomUUID();
    await store.storeSecretValues(id, { password: secret });
    const pathPrefix = `/secrets/${store.prefix}-`;
    const errors: unknown[] = [await failure(store.storeSecretValues(id, { password: secret }))];
    await control("POST", "/faults", { kind: "status", status: 500, count: 2, method: "PUT", pathPrefix });
    errors.push(await failure(store.updateSecretValues(id, { password: secret })));
    await control("POST", "/faults", { kind: "status", status: 400, count: 1, method: "PUT", pathPrefix });
    errors.push(await failure(store.storeSecretValues(randomUUID(), { password: secret })));
    await control("POST", "/faults", { kind: "drop", count: 2, method: "PUT", pathPrefix });
    errors.push(await failure(store.storeSecretValues(randomUUID(), { password: secret })));
    const denied = await open({ credential: { ...(config.credential as object), clientSecret: "wrong" } });
    errors.push(await failure(denied.storeSecretValues(randomUUID(), { password: secret })));
    expect(errors.map((error) => (error as SecretStoreError).code)).toEqual([
      "E_SECRET_EXISTS",
      "E_PROVIDER_UNAVAILABLE",
      "E_UNKNOWN",
      "E_PROVIDER_UNAVAILABLE",
      "E_PERMISSION_DENIED",
    ]);
    for (const error of errors) {
      expect(inspect(error, { depth: 20, showHidden: true })).not.toContain(secret);
      expect(JSON.stringify(error)).not.toContain(secret);
    }
  });

  it("loads the Azure SDK and no other cloud SDK when azure is selected", () => {
    const loaded = packagesLoadedFor(config);
    expect(loaded).toContain("@azure/keyvault-secrets");
    expect(loaded).toContain("@azure/identity");
    for (const sdk of CLOUD_SDK_PACKAGES.filter((name) => !name.startsWith("@azure/")))
      expect(loaded).not.toContain(sdk);
    expect(loaded).not.toContain("better-sqlite3");
  });

  it("loads no Azure package when another provider is selected", () => {
    const loaded = packagesLoadedFor({ provider: "memory" });
    expect(loaded).toContain("zod");
    for (const name of loaded) expect(name.startsWith("@azure/"), name).toBe(false);
  });
});

afterAll(async () => {
  // The shared server keeps its log bounded itself; leave no injected fault behind for another file.
  if (info) await control("DELETE", "/faults");
});
