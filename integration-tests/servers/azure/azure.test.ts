/**
 * The Azure adapter against a Key Vault API: the project's own test server (`keyvault/`), started
 * by the harness, or a vault named by OMNISECRET_TEST_AZURE_VAULT_URL (such as Lowkey Vault). The
 * tests that inject faults, count requests or switch purge protection need the project's server
 * and its control API; against another vault they fail saying so.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { rootCertificates } from "node:tls";
import { inspect } from "node:util";
import { ClientSecretCredential, type TokenCredential } from "@azure/identity";
import { type DeletedSecret, SecretClient } from "@azure/keyvault-secrets";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { NotFound } from "../../../bench/lib/side.js";
import {
  createAdapterFromConfig,
  type SecretStore,
  type SecretStoreError,
  type SecretsAdapter,
} from "../../../src/index.js";
import { markedSecretValue, testSecretsAdapter, valuesOfSerializedSize } from "../../../src/testing/index.js";
import { httpsAgentKeyLengths } from "../../../test-support/agent-keys.js";
import { withEnvVariable } from "../../../test-support/env.js";
import { CLOUD_SDK_PACKAGES, packagesLoadedFor } from "../../../test-support/packages-loaded.js";
import {
  itTreatsAnotherOwnersSecretAsMissing,
  serverConfig,
  storeOpener,
  testContractOnServer,
} from "../../server-config.js";
import { createRawAzure } from "./bench-raw.js";
import { createControlClient, type KeyVaultControlClient } from "./keyvault/control-client.js";
import { type KeyVaultServerDescription, startKeyVaultServer } from "./keyvault/server.js";
import { testServerInfo } from "./server.js";

const config = serverConfig("azure");
const vaultUrl = config.vaultUrl as string;
const caCertFile = config.caCertFile as string | undefined;
const caPem = caCertFile ? readFileSync(caCertFile, "utf8") : undefined;
const tlsOptions = caPem ? { tlsOptions: { ca: [...rootCertificates, caPem] } } : {};
const info = testServerInfo(config);
const freshPrefix = () => `it-${randomUUID().slice(0, 8)}`;
/** The Key Vault name of `id` in a store opened with `owner`. */
const nameIn = (store: SecretStore, id: string, owner = "default") => `${store.prefix}-${owner}-${id}`;

function serverInfo(): KeyVaultServerDescription {
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

const controlClient = info ? createControlClient(info, readFileSync(info.caCertFile, "utf8")) : undefined;

/** The test server's control API: faults, request log, runtime config. */
function control(): KeyVaultControlClient {
  if (!controlClient)
    throw new Error("this test needs the project's Key Vault test server (its control API), not an external vault");
  return controlClient;
}

/** The secrets API requests sent since the log was cleared, as "METHOD /path status". */
async function secretRequests(): Promise<string[]> {
  return (await control().requests())
    .filter((entry) => entry.listener === "vault" && /^\/(deleted)?secrets/i.test(entry.path))
    .map((entry) => `${entry.method} ${entry.path.toLowerCase()} ${entry.status}`);
}

/**
 * The secrets API requests `run` sent for names under `prefix`: other tests, in this file and
 * others, share the server and its log meanwhile.
 */
async function measure(prefix: string, run: () => Promise<unknown>): Promise<string[]> {
  await control().clearRequests();
  await run();
  const mine = new RegExp(`^[A-Z]+ /(deleted)?secrets/${prefix.toLowerCase()}-`);
  return (await secretRequests()).filter((request) => mine.test(request));
}

async function failure(promise: Promise<unknown>): Promise<SecretStoreError> {
  return promise.then(
    () => {
      throw new Error("expected the operation to fail");
    },
    (error: unknown) => error as SecretStoreError,
  );
}

testContractOnServer("azure", config, { versions: { keepVersions: 2 } });

/**
 * An older Key Vault API version, as Lowkey Vault (whose list beyond one page fails under the
 * SDK's default 2026-04-01), Azure Stack Hub and sovereign clouds need pinned.
 */
const OLDER_SERVICE_VERSION = "7.5";

describe(`serviceVersion ${OLDER_SERVICE_VERSION}`, () => {
  const pinned = { ...config, serviceVersion: OLDER_SERVICE_VERSION };
  const open = storeOpener(pinned, freshPrefix);
  /** The prefixes the contract suite below opened its stores with. */
  const suitePrefixes: string[] = [];

  beforeAll(async () => {
    if (info) await control().clearRequests();
  });

  testSecretsAdapter(`azure (serviceVersion ${OLDER_SERVICE_VERSION})`, {
    createAdapter: async ({ prefix }) => {
      suitePrefixes.push(prefix.toLowerCase());
      return (await createAdapterFromConfig({ ...pinned, prefix })).adapter;
    },
  });

  /** The vault's requests in the server's log, with the api-version each sent. */
  async function vaultRequests() {
    const entries = (await control().requests()).filter(
      (entry) => entry.listener === "vault" && /^\/(deleted)?secrets/i.test(entry.path),
    );
    if (entries.length > 0 && entries.every((entry) => entry.apiVersion === undefined)) {
      throw new Error(
        "the Key Vault test server's log has no api-version: it predates that field; restart it (npm run servers:start azure)",
      );
    }
    return entries;
  }

  it(`sent api-version=${OLDER_SERVICE_VERSION} in every request of the contract suite`, async () => {
    const mine = (await vaultRequests()).filter((entry) =>
      suitePrefixes.some((prefix) => entry.path.toLowerCase().split("/")[2]?.startsWith(`${prefix}-`)),
    );
    expect(suitePrefixes.length).toBeGreaterThan(0);
    expect(mine.length).toBeGreaterThan(100);
    expect(new Set(mine.map((entry) => entry.apiVersion))).toEqual(new Set([OLDER_SERVICE_VERSION]));
  });

  it("lists beyond one page (26 secrets), following the nextLink with the same api-version", async () => {
    const store = await open();
    const ids = Array.from({ length: 26 }, () => randomUUID());
    for (const id of ids) await store.storeSecretValues(id, { id });
    try {
      await control().clearRequests();
      const listed: string[] = [];
      for await (const id of store.listSecretIds()) listed.push(id);
      expect(listed.sort()).toEqual([...ids].sort());
      // GET /secrets lists the whole vault: at least two pages of 25 here, the later ones through
      // the nextLink ($skiptoken). Other clients of a shared server may list meanwhile, with their
      // own version; this store's pages are the ones with 7.5.
      const pages = (await vaultRequests()).filter((entry) => entry.method === "GET" && entry.path === "/secrets");
      const pinnedPages = pages.filter((entry) => entry.apiVersion === OLDER_SERVICE_VERSION);
      expect(pinnedPages.length).toBeGreaterThanOrEqual(2);
      expect(pinnedPages.every((entry) => entry.status === 200)).toBe(true);
      expect(pinnedPages.filter((entry) => entry.skipToken).length).toBeGreaterThanOrEqual(1);
      expect(pinnedPages.filter((entry) => !entry.skipToken).length).toBeGreaterThanOrEqual(1);
    } finally {
      await Promise.all(ids.map((id) => store.deleteSecretValues(id)));
    }
  });
});

describe("azure adapter against the Key Vault API", () => {
  const open = storeOpener(config, freshPrefix);

  afterEach(async () => {
    if (info) await control().clearFaults();
  });

  it("names the secret <prefix>-<owner>-<uuid>, stores the map as JSON (application/json) and tags it", async () => {
    const store = await open({ owner: "server-42" });
    const id = randomUUID();
    await store.storeSecretValues(id, { user: "admin" });
    const secret = await rawSdk().getSecret(`${store.prefix}-server-42-${id}`);
    expect(secret.value).toBe('{"user":"admin"}');
    expect(secret.properties.contentType).toBe("application/json");
    expect(secret.properties.tags).toEqual({
      "managed-by": "omnisecret",
      "omnisecret-id": id,
      "omnisecret-owner": "server-42",
      "omnisecret-incarnation": expect.stringMatching(/^[0-9a-z]+$/),
      "omnisecret-sequence": "1",
    });
    const incarnation = secret.properties.tags?.["omnisecret-incarnation"];
    await store.updateSecretValues(id, { user: "root" });
    // An update keeps the incarnation and counts on.
    expect((await rawSdk().getSecret(`${store.prefix}-server-42-${id}`)).properties.tags).toMatchObject({
      "omnisecret-incarnation": incarnation,
      "omnisecret-sequence": "2",
    });
  });

  it("sends 2 requests to store, 1 to get, 3 to update and 3 or more to delete (a GET more with verifyOwnership)", async () => {
    for (const verifyOwnership of [false, true]) {
      const store = await open({ verifyOwnership });
      const id = randomUUID();
      // The client's first request gets the 401 challenge; warm it up first.
      await failure(store.getSecretValues(randomUUID()));
      const name = `/secrets/${nameIn(store, id)}`.toLowerCase();
      const deleted = `/deletedsecrets/${nameIn(store, id)}`.toLowerCase();

      expect(await measure(store.prefix, () => store.storeSecretValues(id, { v: "1" }))).toEqual([
        `GET ${name}/ 404`,
        `PUT ${name} 200`,
      ]);
      expect(await measure(store.prefix, () => store.getSecretValues(id))).toEqual([`GET ${name}/ 200`]);
      const update = await measure(store.prefix, () => store.updateSecretValues(id, { v: "2" }));
      expect(update).toHaveLength(3);
      expect(update.slice(0, 2)).toEqual([`GET ${name}/ 200`, `PUT ${name} 200`]);
      expect(update[2]).toMatch(new RegExp(`^PATCH ${name}/[0-9a-f]+ 200$`));

      const deletion = await measure(store.prefix, () => store.deleteSecretValues(id));
      // Only the strict mode reads the tags first: DELETE itself tells a missing secret.
      if (verifyOwnership) expect(deletion.shift()).toBe(`GET ${name}/ 200`);
      expect(deletion[0]).toBe(`DELETE ${name} 200`);
      // The deleted secret shows after the server's delay (300 ms): the SDK looks at once, then
      // this adapter waits 500 ms before looking again, so two looks, or one if the first was late.
      // The SDK's own pollUntilDone would look twice back to back first.
      const polls = deletion.slice(1, -1);
      expect(polls.length, deletion.join("\n")).toBeGreaterThanOrEqual(1);
      expect(polls.length, deletion.join("\n")).toBeLessThanOrEqual(2);
      expect(polls.at(-1)).toBe(`GET ${deleted} 200`);
      for (const poll of polls.slice(0, -1)) expect(poll).toBe(`GET ${deleted} 404`);
      expect(deletion.at(-1)).toBe(`DELETE ${deleted} 204`);

      // A missing id: one request each, the delete's own DELETE by default.
      const missing = randomUUID();
      const missingName = `/secrets/${nameIn(store, missing)}`.toLowerCase();
      expect(await measure(store.prefix, () => failure(store.updateSecretValues(missing, { v: "1" })))).toEqual([
        `GET ${missingName}/ 404`,
      ]);
      expect(await measure(store.prefix, () => failure(store.deleteSecretValues(missing)))).toEqual([
        verifyOwnership ? `GET ${missingName}/ 404` : `DELETE ${missingName} 404`,
      ]);
    }
  });

  it("bench raw side: the plain SDK sends the same requests as the default config, and works", async () => {
    const prefix = freshPrefix();
    const raw = await createRawAzure(config, prefix);
    const id = randomUUID();
    await failure(raw.getSecretValues(randomUUID()));
    const name = `/secrets/${prefix}-default-${id}`.toLowerCase();
    const deleted = `/deletedsecrets/${prefix}-default-${id}`.toLowerCase();
    expect(await measure(prefix, () => raw.storeSecretValues(id, { v: "1" }))).toEqual([
      `GET ${name}/ 404`,
      `PUT ${name} 200`,
    ]);
    expect(await measure(prefix, () => raw.getSecretValues(id))).toEqual([`GET ${name}/ 200`]);
    const update = await measure(prefix, () => raw.updateSecretValues(id, { v: "2" }));
    expect(update.map((request) => request.split(" ")[0])).toEqual(["GET", "PUT", "PATCH"]);
    expect(await raw.getSecretValues(id)).toEqual({ v: "2" });
    const deletion = await measure(prefix, () => raw.deleteSecretValues(id));
    expect(deletion[0]).toBe(`DELETE ${name} 200`);
    expect(deletion.slice(1, -1).length).toBeLessThanOrEqual(2);
    expect(deletion.at(-2)).toBe(`GET ${deleted} 200`);
    expect(deletion.at(-1)).toBe(`DELETE ${deleted} 204`);
    await expect(raw.deleteSecretValues(id)).rejects.toBeInstanceOf(NotFound);
    await raw.close();
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
      for await (const version of rawSdk().listPropertiesOfSecretVersions(nameIn(store, id))) versions.push(version);
      expect(versions).toHaveLength(2);
      const current = await rawSdk().getSecret(nameIn(store, id));
      const old = versions.find((version) => version.version !== current.properties.version);
      expect(old?.enabled, pruneAction).toBe(oldEnabled);
      expect(await store.getSecretValues(id)).toEqual({ password: "new" });
    }
  });

  describe("versions", () => {
    const values = (letter: string) => ({ password: letter });
    /** The adapter itself (the facade's version plumbing is another piece): store, update, read at a version. */
    async function versionedAdapter(overrides: Record<string, unknown> = {}, on: Record<string, unknown> = config) {
      const prefix = freshPrefix();
      const { adapter } = await createAdapterFromConfig({ ...on, prefix, ...overrides });
      adapters.push(adapter);
      const write = (id: string, map: Record<string, string>, how: "store" | "update") =>
        how === "store"
          ? adapter.storeSecretValues(id, map, JSON.stringify(map), {})
          : adapter.updateSecretValues(id, map, JSON.stringify(map), {});
      return {
        adapter,
        prefix,
        store: (id: string, map: Record<string, string>) => write(id, map, "store"),
        update: (id: string, map: Record<string, string>) => write(id, map, "update"),
        get: (id: string, version?: string) => adapter.getSecretValues(id, version === undefined ? {} : { version }),
        versions: async (id: string) => {
          if (!adapter.listSecretVersions) throw new Error("the azure adapter lists versions");
          return adapter.listSecretVersions(id, {});
        },
        /** Rollback as the facade does it: read "previous", write it as a new version. */
        rollback: async (id: string) =>
          write(id, (await adapter.getSecretValues(id, { version: "previous" })).values, "update"),
      };
    }
    const adapters: SecretsAdapter[] = [];
    afterAll(async () => {
      for (const adapter of adapters) await adapter.close?.();
    });

    it("keepVersions 2: store A, update B, update C; latest C, previous B, A pruned; rollback gives B, previous C", async () => {
      const kv = await versionedAdapter({ keepVersions: 2 });
      expect(kv.adapter.capabilities.versions).toBe(true);
      const id = randomUUID();
      const name = `${kv.prefix}-default-${id}`;
      await kv.store(id, values("A"));
      const tokenA = (await kv.get(id)).version ?? "";
      expect(kv.adapter.isVersionToken?.(tokenA)).toBe(true);
      expect(tokenA).toMatch(/^[0-9a-z]+\.[0-9a-f]{32}$/);
      await expect(kv.get(id, "previous")).rejects.toMatchObject({
        code: "E_SECRET_NOT_FOUND",
        message: `secret ${id} has no previous version`,
      });
      await kv.update(id, values("B"));
      await control().clearRequests();
      await kv.update(id, values("C"));
      // With keepVersions 2 an update lists the versions to find the one falling out of the window.
      const update = (await secretRequests()).filter((request) => request.includes(name.toLowerCase()));
      expect(update.map((request) => request.split(" ")[0])).toEqual(["GET", "PUT", "GET", "PATCH"]);
      expect(update[2]).toBe(`GET /secrets/${name.toLowerCase()}/versions 200`);

      const latest = await kv.get(id);
      expect(latest.values).toEqual(values("C"));
      const previous = await kv.get(id, "previous");
      expect(previous.values).toEqual(values("B"));
      const listed = await kv.versions(id);
      expect(listed.map((version) => [version.current, version.readable])).toEqual([
        [true, true],
        [false, true],
        [false, false],
      ]);
      expect(listed.map((version) => version.token)).toEqual([latest.version, previous.version, tokenA]);
      for (const version of listed) expect(version.createdAt).toBeInstanceOf(Date);
      expect((await kv.get(id, previous.version)).values).toEqual(values("B"));
      await expect(kv.get(id, tokenA)).rejects.toMatchObject({
        code: "E_SECRET_NOT_FOUND",
        message: `that version of secret ${id} was pruned (keepVersions 2)`,
      });
      // In the vault: A's version disabled, B's and C's enabled (anyone with the right may enable A again).
      const inVault = [];
      for await (const version of rawSdk().listPropertiesOfSecretVersions(name)) inVault.push(version);
      expect(inVault.filter((version) => version.enabled !== false)).toHaveLength(2);
      expect(inVault.find((version) => tokenA.endsWith(version.version ?? "-"))?.enabled).toBe(false);

      await kv.rollback(id);
      expect((await kv.get(id)).values).toEqual(values("B"));
      expect((await kv.get(id, "previous")).values).toEqual(values("C"));
      await expect(kv.get(id, latest.version)).resolves.toMatchObject({ values: values("C") });
      await expect(kv.get(id, previous.version)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      expect((await kv.versions(id)).map((version) => version.readable)).toEqual([true, true, false, false]);
    });

    it("keepVersions 1 (default): an update leaves nothing earlier readable, and previous costs no request beyond the GET", async () => {
      const kv = await versionedAdapter();
      const id = randomUUID();
      await kv.store(id, values("A"));
      const tokenA = (await kv.get(id)).version ?? "";
      await kv.update(id, values("B"));
      await control().clearRequests();
      await expect(kv.get(id, "previous")).rejects.toMatchObject({
        code: "E_SECRET_NOT_FOUND",
        message: `the previous version of secret ${id} is not kept (keepVersions 1)`,
      });
      await expect(kv.get(id, tokenA)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      const name = `${kv.prefix}-default-${id}`.toLowerCase();
      expect((await secretRequests()).filter((request) => request.includes(name))).toEqual([
        `GET /secrets/${name}/ 200`,
        `GET /secrets/${name}/ 200`,
      ]);
      const listed = await kv.versions(id);
      expect(listed.map((version) => [version.current, version.readable])).toEqual([
        [true, true],
        [false, false],
      ]);
      await expect(kv.get(id, "latest")).resolves.toMatchObject({ values: values("B"), version: listed[0]?.token });
    });

    it("refuses a malformed token before any request, and reports a version of a missing secret as not found", async () => {
      const kv = await versionedAdapter({ keepVersions: 2 });
      const id = randomUUID();
      for (const token of ["", "abc", "x.123", `a.${"0".repeat(31)}`, `${"a".repeat(100)}.${"0".repeat(32)}`]) {
        expect(kv.adapter.isVersionToken?.(token), token).toBe(false);
        await expect(kv.get(id, token)).rejects.toMatchObject({ code: "E_INVALID_VERSION", field: "version" });
      }
      await expect(kv.get(id, `abc.${"0".repeat(32)}`)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      await expect(kv.get(id, "previous")).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      await expect(kv.versions(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    });

    it("after delete (purged) and a new store, an old token is not found and no old version is listed", async () => {
      const kv = await versionedAdapter({ keepVersions: 2 });
      const id = randomUUID();
      await kv.store(id, values("A"));
      await kv.update(id, values("B"));
      const oldTokens = (await kv.versions(id)).map((version) => version.token);
      await kv.adapter.deleteSecretValues(id, {});
      await expect(kv.versions(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      await kv.store(id, values("C"));
      for (const token of oldTokens) {
        await expect(kv.get(id, token)).rejects.toMatchObject({
          code: "E_SECRET_NOT_FOUND",
          message: `that version of secret ${id} belongs to a secret deleted since (the id was stored again)`,
        });
      }
      const listed = await kv.versions(id);
      expect(listed).toHaveLength(1);
      expect(oldTokens).not.toContain(listed[0]?.token);
      await expect(kv.get(id, "previous")).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    });

    describe("on a purge-protected vault", () => {
      afterEach(async () => {
        await control().configure({ purgeProtected: false });
      });

      it("after a soft delete and a store that recovers the old versions, none of them is read or listed, and all are disabled", async () => {
        await control().configure({ purgeProtected: true });
        const kv = await versionedAdapter({ keepVersions: 2, deletePolicy: "soft" });
        const id = randomUUID();
        const name = `${kv.prefix}-default-${id}`;
        await kv.store(id, values("A"));
        await kv.update(id, values("B"));
        await kv.update(id, values("C"));
        const oldTokens = (await kv.versions(id)).map((version) => version.token);
        expect(oldTokens).toHaveLength(3);
        await kv.adapter.deleteSecretValues(id, {});
        // Key Vault finishes the deletion in the background: wait until it shows.
        while (
          !(await rawSdk()
            .getDeletedSecret(name)
            .catch(() => sleep(100).then(() => undefined)))
        ) {}
        await kv.store(id, values("D"));
        // The recovered versions are back in the vault, but of the earlier incarnation.
        const inVault = [];
        for await (const version of rawSdk().listPropertiesOfSecretVersions(name)) inVault.push(version);
        expect(inVault).toHaveLength(4);
        expect(inVault.filter((version) => version.enabled !== false)).toHaveLength(1);
        for (const token of oldTokens) {
          await expect(kv.get(id, token)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
        }
        // Even one enabled again by hand is not this secret's.
        const cToken = oldTokens[0] ?? "";
        await rawSdk().updateSecretProperties(name, cToken.split(".")[1] ?? "", { enabled: true });
        await expect(kv.get(id, cToken)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
        const listed = await kv.versions(id);
        expect(listed).toHaveLength(1);
        expect(listed[0]).toMatchObject({ current: true, readable: true });
        await expect(kv.get(id, "previous")).rejects.toMatchObject({
          code: "E_SECRET_NOT_FOUND",
          message: `secret ${id} has no previous version`,
        });
        await kv.update(id, values("E"));
        expect((await kv.get(id, "previous")).values).toEqual(values("D"));
        expect(await kv.versions(id)).toHaveLength(2);
      });
    });

    it("orders versions by their sequence, on a server that lists them in no time order and within one second", async () => {
      // A server of this worktree's code, whose version list is in id order as Azure's is in no time order.
      const own = await startKeyVaultServer({ deleteDelayMs: 0, recoverDelayMs: 0, purgeDelayMs: 0 });
      try {
        const kv = await versionedAdapter(
          { keepVersions: 3 },
          {
            provider: "azure",
            vaultUrl: own.vaultUrl,
            caCertFile: own.caCertFile,
            disableChallengeResourceVerification: true,
            credential: {
              tenantId: own.tenantId,
              clientId: own.clientId,
              clientSecret: own.clientSecret,
              authorityHost: own.authorityHost,
            },
          },
        );
        const id = randomUUID();
        await kv.store(id, values("0"));
        const tokens = [(await kv.get(id)).version];
        for (let index = 1; index < 8; index++) {
          await kv.update(id, values(String(index)));
          tokens.unshift((await kv.get(id)).version);
          expect((await kv.get(id, "previous")).values).toEqual(values(String(index - 1)));
        }
        const listed = await kv.versions(id);
        expect(listed.map((version) => version.token)).toEqual(tokens);
        expect(listed.map((version) => version.readable)).toEqual([
          true,
          true,
          true,
          false,
          false,
          false,
          false,
          false,
        ]);
        await kv.adapter.close?.();
      } finally {
        await own.close();
      }
    });
  });

  it("deletes with purge and stores the same id again at once, retrying while Key Vault still holds the name (409)", async () => {
    const store = await open();
    const id = randomUUID();
    const name = `/secrets/${nameIn(store, id)}`.toLowerCase();
    for (let generation = 1; generation <= 3; generation += 1) {
      await store.storeSecretValues(id, { generation: String(generation) });
      expect(await store.getSecretValues(id)).toEqual({ generation: String(generation) });
      await store.deleteSecretValues(id);
    }
    await control().clearRequests();
    await store.storeSecretValues(id, { generation: "4" });
    const puts = (await secretRequests()).filter((request) => request.startsWith(`PUT ${name} `));
    // The purge just before leaves the name blocked for a while: the first set meets 409, a later one succeeds.
    expect(puts[0]).toBe(`PUT ${name} 409`);
    expect(puts.at(-1)).toBe(`PUT ${name} 200`);
    expect(await store.getSecretValues(id)).toEqual({ generation: "4" });
    await expect(rawSdk().getDeletedSecret(nameIn(store, id))).rejects.toMatchObject({ statusCode: 404 });
  });

  describe("on a purge-protected vault", () => {
    afterEach(async () => {
      await control().configure({ purgeProtected: false });
    });

    it("deletes with soft, and a store of the same id recovers it and writes a new version", async () => {
      await control().configure({ purgeProtected: true });
      const store = await open({ deletePolicy: "soft" });
      const id = randomUUID();
      const name = nameIn(store, id);
      await store.storeSecretValues(id, { generation: "1" });
      // Nothing to purge, so nothing to wait for: the DELETE and the look the SDK sends with it.
      const deletion = await measure(store.prefix, () => store.deleteSecretValues(id));
      expect(deletion).toHaveLength(2);
      expect(deletion[0]).toBe(`DELETE /secrets/${name.toLowerCase()} 200`);
      await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      // Key Vault finishes the deletion in the background: wait until it shows.
      let deleted: DeletedSecret | undefined;
      while (!deleted) {
        deleted = await rawSdk()
          .getDeletedSecret(name)
          .catch(() => sleep(100).then(() => undefined));
      }
      expect(deleted.properties.recoveryLevel).toBe("Recoverable");
      await store.storeSecretValues(id, { generation: "2" });
      expect(await store.getSecretValues(id)).toEqual({ generation: "2" });
      // The recovered version held the deleted secret's values: it is disabled.
      const versions = [];
      for await (const version of rawSdk().listPropertiesOfSecretVersions(name)) versions.push(version);
      expect(versions.filter((version) => version.enabled !== false)).toHaveLength(1);
      await expect(store.storeSecretValues(id, { generation: "3" })).rejects.toMatchObject({ code: "E_SECRET_EXISTS" });
    });

    it("with the purge policy, leaves a secret it may not purge soft-deleted and still stores its id again", async () => {
      await control().configure({ purgeProtected: true });
      const store = await open();
      const id = randomUUID();
      await store.storeSecretValues(id, { generation: "1" });
      await store.deleteSecretValues(id);
      await store.storeSecretValues(id, { generation: "2" });
      expect(await store.getSecretValues(id)).toEqual({ generation: "2" });
    });
  });

  it("ends a delete whose deletion never shows after the settle wait, unpurged, and a later store purges it", async () => {
    // As when a racing store purged the deleted secret and set the name again before this delete looked.
    const store = await open({ operationTimeoutMs: 4_000 });
    const id = randomUUID();
    const name = nameIn(store, id);
    await store.storeSecretValues(id, { generation: "1" });
    await control().injectFault({
      kind: "status",
      status: 404,
      count: 100,
      method: "GET",
      pathPrefix: `/deletedsecrets/${name}`,
    });
    const started = performance.now();
    const deletion = await measure(store.prefix, () => store.deleteSecretValues(id));
    const took = performance.now() - started;
    // Half of operationTimeoutMs: 2 s of looks, then success well before the deadline.
    expect(took).toBeGreaterThanOrEqual(1_500);
    expect(took).toBeLessThan(3_500);
    expect(deletion[0]).toBe(`DELETE /secrets/${name.toLowerCase()} 200`);
    expect(deletion.filter((request) => request.startsWith("DELETE /deletedsecrets/"))).toEqual([]);
    await control().clearFaults();
    await expect(store.getSecretValues(id)).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
    await store.storeSecretValues(id, { generation: "2" });
    expect(await store.getSecretValues(id)).toEqual({ generation: "2" });
  });

  it("leaves a foreign deleted-but-recoverable secret alone: E_SECRET_EXISTS, not purged, not recovered", async () => {
    const store = await open();
    const id = randomUUID();
    const name = nameIn(store, id);
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
    const name = nameIn(store, id);
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

  it("never reads, updates or lists a secret at its name without its tags, nor deletes one with verifyOwnership", async () => {
    const foreignTags = [
      undefined,
      { "managed-by": "omnisecret", "omnisecret-owner": "someone-else" },
      { "managed-by": "someone-else", "omnisecret-owner": "default" },
    ];
    for (const tags of foreignTags) {
      const store = await open();
      const strict = await open({ prefix: store.prefix, verifyOwnership: true });
      const id = randomUUID();
      const name = nameIn(store, id);
      await rawSdk().setSecret(name, '{"foreign":"value"}', tags ? { tags: { ...tags, "omnisecret-id": id } } : {});
      const what = JSON.stringify(tags);
      await expect(store.getSecretValues(id), what).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      await expect(store.updateSecretValues(id, { mine: "now" }), what).rejects.toMatchObject({
        code: "E_SECRET_NOT_FOUND",
      });
      await expect(store.storeSecretValues(id, { mine: "now" }), what).rejects.toMatchObject({
        code: "E_SECRET_EXISTS",
      });
      await expect(strict.deleteSecretValues(id), what).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
      const listed: string[] = [];
      for await (const listedId of store.listSecretIds()) listed.push(listedId);
      expect(listed, what).toEqual([]);
      const untouched = await rawSdk().getSecret(name);
      expect(untouched.value, what).toBe('{"foreign":"value"}');
      const versions = [];
      for await (const version of rawSdk().listPropertiesOfSecretVersions(name)) versions.push(version);
      expect(versions, what).toHaveLength(1);
      // By default a delete reads nothing first: whatever holds one of its names is deleted.
      await store.deleteSecretValues(id);
      await expect(rawSdk().getSecret(name)).rejects.toMatchObject({ statusCode: 404 });
    }
  });

  itTreatsAnotherOwnersSecretAsMissing(open, freshPrefix);

  it("lists only its own owner's ids under its prefix, whatever case Key Vault gives the names in", async () => {
    const prefix = freshPrefix();
    const mine = await open({ prefix, owner: "team-a" });
    const theirs = await open({ prefix, owner: "team-b" });
    // Same name start as team-a's with another owner after it: the dash after the owner tells them apart.
    const longer = await open({ prefix, owner: "team-a-2" });
    const ids = { mine: randomUUID(), theirs: randomUUID(), longer: randomUUID(), upper: randomUUID() };
    await mine.storeSecretValues(ids.mine, { who: "a" });
    await theirs.storeSecretValues(ids.theirs, { who: "b" });
    await longer.storeSecretValues(ids.longer, { who: "a-2" });
    // Written by hand in upper case, with our tags: Key Vault names are case-insensitive, so it is ours.
    await rawSdk().setSecret(nameIn(mine, ids.upper, "team-a").toUpperCase(), '{"who":"A"}', {
      tags: { "managed-by": "omnisecret", "omnisecret-id": ids.upper.toUpperCase(), "omnisecret-owner": "team-a" },
    });
    const listed = async (store: SecretStore) => {
      const found: string[] = [];
      for await (const id of store.listSecretIds()) found.push(id);
      return found.sort();
    };
    expect(await listed(mine)).toEqual([ids.mine, ids.upper].sort());
    expect(await listed(theirs)).toEqual([ids.theirs]);
    expect(await listed(longer)).toEqual([ids.longer]);
    expect(await mine.getSecretValues(ids.upper)).toEqual({ who: "A" });
  });

  it("lists every id across several pages", async () => {
    const store = await open({ listPageSize: 2 });
    const ids = Array.from({ length: 7 }, () => randomUUID());
    for (const id of ids) await store.storeSecretValues(id, { id });
    await control().clearRequests();
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
    const stored = await rawSdk().getSecret(nameIn(store, id));
    expect(Buffer.byteLength(stored.value as string, "utf8")).toBe(25_600);
    expect(await store.getSecretValues(id)).toEqual(atLimit);
    await expect(store.storeSecretValues(randomUUID(), valuesOfSerializedSize(25_601))).rejects.toMatchObject({
      code: "E_SECRET_TOO_LARGE",
    });
    await expect(
      rawSdk().setSecret(nameIn(store, randomUUID()), JSON.stringify(valuesOfSerializedSize(25_601))),
    ).rejects.toMatchObject({ statusCode: 400, code: "BadParameter" });
  });

  describe("faults injected by the test server", () => {
    it("retries a 429 with Retry-After and a 500, then gives E_PROVIDER_UNAVAILABLE when they persist", async () => {
      const store = await open({ maxAttempts: 3 });
      const id = randomUUID();
      await store.storeSecretValues(id, { v: "1" });
      const pathPrefix = `/secrets/${nameIn(store, id)}`;

      await control().injectFault({
        kind: "status",
        status: 429,
        retryAfterSeconds: 0,
        count: 2,
        method: "GET",
        pathPrefix,
      });
      expect(await measure(store.prefix, () => store.getSecretValues(id))).toHaveLength(3);
      await control().injectFault({ kind: "status", status: 500, count: 1, method: "GET", pathPrefix });
      expect(await store.getSecretValues(id)).toEqual({ v: "1" });

      for (const status of [429, 500]) {
        await control().injectFault({ kind: "status", status, retryAfterSeconds: 0, count: 3, pathPrefix });
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
      const pathPrefix = `/secrets/${nameIn(store, id)}`;
      await control().injectFault({ kind: "drop", count: 1, pathPrefix });
      expect(await store.getSecretValues(id)).toEqual({ v: "1" });
      await control().injectFault({ kind: "delay", delayMs: 5_000, count: 1, pathPrefix });
      const started = performance.now();
      const error = await failure(store.getSecretValues(id));
      expect(error.code).toBe("E_PROVIDER_UNAVAILABLE");
      expect(performance.now() - started).toBeLessThan(4_000);
    });
  });

  describe("authentication", () => {
    it("signs in with the client secret flow against the server's token endpoint", async () => {
      const store = await open();
      await control().clearRequests();
      await failure(store.getSecretValues(randomUUID()));
      const token = (await control().requests()).filter((entry) => /\/oauth2\/v2\.0\/token$/.test(entry.path));
      expect(token.map((entry) => `${entry.method} ${entry.status}`)).toEqual(["POST 200"]);
    });

    it("signs in with managed identity (App Service) through DefaultAzureCredential", async () => {
      const { identityEndpoint, identityHeader } = serverInfo();
      const saved = { IDENTITY_ENDPOINT: process.env.IDENTITY_ENDPOINT, IDENTITY_HEADER: process.env.IDENTITY_HEADER };
      process.env.IDENTITY_ENDPOINT = identityEndpoint;
      process.env.IDENTITY_HEADER = identityHeader;
      try {
        const store = await open({ credential: undefined });
        await control().clearRequests();
        const id = randomUUID();
        await store.storeSecretValues(id, { via: "managed identity" });
        expect(await store.getSecretValues(id)).toEqual({ via: "managed identity" });
        const identity = (await control().requests()).filter((entry) => entry.listener === "identity");
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
      const lifetime = await control().config();
      await control().configure({ tokenLifetimeSeconds: 1 });
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
        await control().configure({ tokenLifetimeSeconds: lifetime.tokenLifetimeSeconds });
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

    it.skipIf(!caCertFile)(
      "still verifies the certificate with caCertFile: a CA that did not issue it is E_CONFIG",
      async () => {
        const otherCa = join(mkdtempSync(join(tmpdir(), "omnisecret-azure-ca-")), "other-ca.pem");
        writeFileSync(otherCa, rootCertificates[0] as string);
        const store = await open({ caCertFile: otherCa });
        const error = await failure(store.getSecretValues(randomUUID()));
        expect(error).toMatchObject({ code: "E_CONFIG", field: "caCertFile" });
      },
    );

    it.skipIf(!caCertFile)(
      "trusts NODE_EXTRA_CA_CERTS beside caCertFile: the server's CA there, another CA in caCertFile (issue 22)",
      async () => {
        const otherCa = join(mkdtempSync(join(tmpdir(), "omnisecret-azure-ca-")), "other-ca.pem");
        writeFileSync(otherCa, rootCertificates[0] as string);
        // Read when the adapter builds its clients, as Node reads it at startup for its own CAs.
        const store = await withEnvVariable("NODE_EXTRA_CA_CERTS", caCertFile as string, () =>
          open({ caCertFile: otherCa }),
        );
        const id = randomUUID();
        await store.storeSecretValues(id, { extra: "ca" });
        expect(await store.getSecretValues(id)).toEqual({ extra: "ca" });
        await store.deleteSecretValues(id);
      },
    );

    it.skipIf(!caCertFile)(
      "keeps caCertFile's CAs out of the key Node's https agent makes for every request",
      async () => {
        // The key is a string join of the agent's `ca`: with the system's CAs and a
        // NODE_EXTRA_CA_CERTS bundle, hundreds of kilobytes on every request, sign-in included.
        const keyLengths = await httpsAgentKeyLengths(async () => {
          const store = await open();
          const id = randomUUID();
          await store.storeSecretValues(id, { tls: "one" });
          await store.updateSecretValues(id, { tls: "two" });
          expect(await store.getSecretValues(id)).toEqual({ tls: "two" });
        });
        expect(keyLengths.length).toBeGreaterThan(0);
        expect(Math.max(...keyLengths)).toBeLessThan(1_000);
      },
    );
  });

  it("puts no value into any error or cause, whatever fails", async () => {
    const secret = markedSecretValue();
    const store = await open({ maxAttempts: 2 });
    const id = randomUUID();
    await store.storeSecretValues(id, { password: secret });
    const pathPrefix = `/secrets/${nameIn(store, "")}`;
    const errors: unknown[] = [await failure(store.storeSecretValues(id, { password: secret }))];
    await control().injectFault({ kind: "status", status: 500, count: 2, method: "PUT", pathPrefix });
    errors.push(await failure(store.updateSecretValues(id, { password: secret })));
    await control().injectFault({ kind: "status", status: 400, count: 1, method: "PUT", pathPrefix });
    errors.push(await failure(store.storeSecretValues(randomUUID(), { password: secret })));
    await control().injectFault({ kind: "drop", count: 2, method: "PUT", pathPrefix });
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
    const directory = mkdtempSync(join(tmpdir(), "omnisecret-azure-other-"));
    const loaded = packagesLoadedFor({ provider: "local", path: join(directory, "other.db") });
    // The recorder must see packages at all, or the absence below proves nothing.
    expect(loaded).toContain("env-paths");
    for (const name of loaded) expect(name.startsWith("@azure/"), name).toBe(false);
  });
});

afterAll(async () => {
  // The shared server keeps its log bounded itself; leave no injected fault behind for another file.
  if (info) await control().clearFaults();
});
