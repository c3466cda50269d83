import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { DefaultAzureCredential } from "@azure/identity";
import type { RestError } from "@azure/keyvault-secrets";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createControlClient } from "./control-client.js";
import { type KeyVaultServer, type RequestLogEntry, startKeyVaultServer } from "./server.js";
import {
  clientSecretCredential,
  managedIdentityToken,
  rawRequest,
  secretClient,
  type TestServerInfo,
} from "./test-helpers.js";
import { MAX_VALUE_BYTES } from "./vault-state.js";

const API = "api-version=2026-04-01";
// Long enough that a loaded CI machine still sees the in-between states, short enough to keep tests quick.
const TIMINGS = { deleteDelayMs: 500, recoverDelayMs: 500, purgeDelayMs: 1500 };
/** Fast polling: the server's delays are short, and the SDK's default interval is 2 s. */
const POLL = { intervalInMs: 100 };

let server: KeyVaultServer;

beforeAll(async () => {
  server = await startKeyVaultServer(TIMINGS);
});

afterAll(async () => {
  await server?.close();
});

afterEach(() => {
  server.control.clearFaults();
});

const uniqueName = (prefix = "t") => `${prefix}-${randomUUID()}`;

/** Requests the SDK sent to one path, in order, as "METHOD status". */
function requestsTo(path: string, entries: RequestLogEntry[] = server.control.requests()): string[] {
  return entries
    .filter((entry) => entry.path.toLowerCase() === path.toLowerCase())
    .map((entry) => `${entry.method} ${entry.status}`);
}

async function rejection(promise: Promise<unknown>): Promise<RestError> {
  try {
    await promise;
  } catch (error) {
    return error as RestError;
  }
  throw new Error("expected the call to fail");
}

function innerCode(error: RestError): string | undefined {
  const details = error.details as { error?: { innerError?: { code?: string } } } | undefined;
  return details?.error?.innerError?.code;
}

describe("secrets API through the real SecretClient", () => {
  it("sets, gets the latest and a given version, and keeps content type, tags and Unix-second times", async () => {
    const client = secretClient(server);
    const name = uniqueName();
    const before = Math.floor(Date.now() / 1000);
    const first = await client.setSecret(name, "value-one", { contentType: "application/json", tags: { team: "a" } });
    const second = await client.setSecret(name, "value-two");

    expect(first.properties.version).toMatch(/^[0-9a-f]{32}$/);
    expect(second.properties.version).not.toBe(first.properties.version);
    const latest = await client.getSecret(name);
    expect(latest.value).toBe("value-two");
    expect(latest.properties.version).toBe(second.properties.version);
    const old = await client.getSecret(name, { version: first.properties.version });
    expect(old.value).toBe("value-one");
    expect(old.properties.contentType).toBe("application/json");
    expect(old.properties.tags).toEqual({ team: "a" });
    expect(old.properties.enabled).toBe(true);
    expect(old.properties.recoveryLevel).toBe("Recoverable+Purgeable");
    expect(old.properties.recoverableDays).toBe(90);
    const created = old.properties.createdOn?.getTime() ?? 0;
    expect(created % 1000).toBe(0);
    expect(created / 1000).toBeGreaterThanOrEqual(before);

    const token = await managedIdentityToken(server);
    const raw = await rawRequest(server, "GET", `/secrets/${name}/${first.properties.version}?${API}`, { token });
    const body = raw.body as { id: string; attributes: Record<string, unknown>; value: string };
    expect(body.id).toBe(`${server.vaultUrl}/secrets/${name}/${first.properties.version}`);
    expect(Number.isInteger(body.attributes.created)).toBe(true);
    expect(body.attributes.created).toBeLessThan(10_000_000_000);
  });

  it("updates enabled, tags and content type of one version; a disabled version answers 403 SecretDisabled", async () => {
    const client = secretClient(server);
    const name = uniqueName();
    const first = await client.setSecret(name, "v1", { tags: { keep: "no" } });
    const firstVersion = first.properties.version ?? "";
    await client.setSecret(name, "v2");

    const updated = await client.updateSecretProperties(name, firstVersion, {
      enabled: false,
      tags: { replaced: "yes" },
      contentType: "text/plain",
    });
    expect(updated.enabled).toBe(false);
    expect(updated.tags).toEqual({ replaced: "yes" });
    expect(updated.contentType).toBe("text/plain");

    const error = await rejection(client.getSecret(name, { version: firstVersion }));
    expect(error.statusCode).toBe(403);
    expect(error.code).toBe("Forbidden");
    expect(innerCode(error)).toBe("SecretDisabled");
    expect((await client.getSecret(name)).value).toBe("v2");

    await client.updateSecretProperties(name, firstVersion, { enabled: true });
    expect((await client.getSecret(name, { version: firstVersion })).value).toBe("v1");
  });

  it("answers 404 SecretNotFound for a missing secret and a missing version", async () => {
    const client = secretClient(server);
    const missing = await rejection(client.getSecret(uniqueName()));
    expect(missing.statusCode).toBe(404);
    expect(missing.code).toBe("SecretNotFound");
    const name = uniqueName();
    await client.setSecret(name, "x");
    const missingVersion = await rejection(client.getSecret(name, { version: "0".repeat(32) }));
    expect(missingVersion.statusCode).toBe(404);
    expect(missingVersion.code).toBe("SecretNotFound");
  });

  it("lists secrets in pages of at most 25, following nextLink, without values", async () => {
    const client = secretClient(server);
    const prefix = uniqueName("list");
    const names = Array.from({ length: 30 }, (_, index) => `${prefix}-${String(index).padStart(2, "0")}`);
    for (const name of names) await client.setSecret(name, `value-of-${name}`, { tags: { index: name.slice(-2) } });

    server.control.clearRequests();
    const seen: string[] = [];
    for await (const properties of client.listPropertiesOfSecrets()) {
      if (properties.name.startsWith(prefix)) {
        seen.push(properties.name);
        expect(properties.tags).toEqual({ index: properties.name.slice(-2) });
      }
    }
    expect(seen.sort()).toEqual(names);
    // 30 of ours plus whatever earlier tests made: at least two pages, the later ones through nextLink.
    expect(requestsTo("/secrets").filter((line) => line === "GET 200").length).toBeGreaterThanOrEqual(2);

    let pages = 0;
    for await (const page of client.listPropertiesOfSecrets().byPage({ maxPageSize: 10 })) {
      pages += 1;
      expect(page.length).toBeLessThanOrEqual(10);
    }
    expect(pages).toBeGreaterThanOrEqual(3);

    const token = await managedIdentityToken(server);
    const first = await rawRequest(server, "GET", `/secrets?${API}`, { token });
    const body = first.body as { value: Array<Record<string, unknown>>; nextLink: string };
    expect(body.value).toHaveLength(25);
    for (const item of body.value) {
      expect(item).not.toHaveProperty("value");
      expect(item.id).toMatch(new RegExp(`^${server.vaultUrl}/secrets/[0-9a-zA-Z-]+$`));
    }
    const next = new URL(body.nextLink);
    expect(next.origin).toBe(server.vaultUrl);
    expect(next.searchParams.get("api-version")).toBe("2026-04-01");
    expect(next.searchParams.get("$skiptoken")).toBeTruthy();

    const tooMany = await rawRequest(server, "GET", `/secrets?${API}&maxresults=26`, { token });
    expect(tooMany.status).toBe(400);
    expect((tooMany.body as { error: { code: string } }).error.code).toBe("BadParameter");
  });

  it("lists the versions of a secret across pages", async () => {
    const client = secretClient(server);
    const name = uniqueName();
    const versions: string[] = [];
    for (let index = 0; index < 27; index++) {
      versions.push((await client.setSecret(name, `value-${index}`)).properties.version ?? "");
    }
    server.control.clearRequests();
    const listed: string[] = [];
    for await (const properties of client.listPropertiesOfSecretVersions(name)) listed.push(properties.version ?? "");
    expect(listed.sort()).toEqual([...versions].sort());
    expect(requestsTo(`/secrets/${name}/versions`)).toEqual(["GET 200", "GET 200"]);
  });

  it("lists each version with its tags, content type and attributes, no value, in id order (not by time)", async () => {
    const client = secretClient(server);
    const name = uniqueName();
    const written = [];
    for (let index = 0; index < 5; index++) {
      written.push(
        await client.setSecret(name, `value-${index}`, { contentType: "text/plain", tags: { n: String(index) } }),
      );
    }
    const first = written[0]?.properties.version ?? "";
    await client.updateSecretProperties(name, first, { enabled: false });
    const listed = [];
    for await (const properties of client.listPropertiesOfSecretVersions(name)) listed.push(properties);
    // Azure's order is deterministic but not chronological (azure-sdk-for-python#35923): by id here.
    const ids = listed.map((properties) => properties.version ?? "");
    expect(ids).toEqual([...ids].sort());
    for (const properties of listed) {
      const index = written.findIndex((secret) => secret.properties.version === properties.version);
      expect(properties.tags).toEqual({ n: String(index) });
      expect(properties.contentType).toBe("text/plain");
      expect(properties.enabled).toBe(properties.version !== first);
      expect(properties.createdOn).toBeInstanceOf(Date);
      expect(properties.name).toBe(name);
      expect("value" in properties).toBe(false);
    }
    const token = await managedIdentityToken(server);
    const raw = await rawRequest(server, "GET", `/secrets/${name}/versions?${API}`, { token });
    const items = (raw.body as { value: Array<Record<string, unknown>> }).value;
    expect(items).toHaveLength(5);
    for (const item of items) {
      expect(item.id).toMatch(new RegExp(`^${server.vaultUrl}/secrets/${name}/[0-9a-f]{32}$`));
      expect(item.value).toBeUndefined();
    }
  });

  it("treats names case-insensitively and keeps the case first used", async () => {
    const client = secretClient(server);
    const name = `Mixed-${randomUUID()}`;
    await client.setSecret(name, "first");
    const fetched = await client.getSecret(name.toLowerCase());
    expect(fetched.value).toBe("first");
    expect(fetched.name).toBe(name);
    await client.setSecret(name.toUpperCase(), "second");
    expect((await client.getSecret(name)).value).toBe("second");
    const versions = [];
    for await (const properties of client.listPropertiesOfSecretVersions(name.toLowerCase())) versions.push(properties);
    expect(versions).toHaveLength(2);
    expect(versions.every((properties) => properties.name === name)).toBe(true);
  });

  it("refuses a name outside ^[0-9a-zA-Z-]{1,127}$ with 400 BadParameter", async () => {
    const client = secretClient(server);
    for (const bad of ["under_score", "dot.name", "a".repeat(128)]) {
      const error = await rejection(client.setSecret(bad, "x"));
      expect(error.statusCode).toBe(400);
      expect(error.code).toBe("BadParameter");
    }
    const longest = `a${randomUUID().replaceAll("-", "")}`.padEnd(127, "b");
    expect((await client.setSecret(longest, "x")).name).toBe(longest);
  });

  it(`accepts a value of ${MAX_VALUE_BYTES} UTF-8 bytes and refuses one byte more, without echoing it`, async () => {
    const client = secretClient(server);
    const name = uniqueName();
    const atLimit = "v".repeat(MAX_VALUE_BYTES);
    expect((await client.setSecret(name, atLimit)).value).toBe(atLimit);
    const overByOne = `${"w".repeat(MAX_VALUE_BYTES - 1)}é`;
    const error = await rejection(client.setSecret(name, overByOne));
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe("BadParameter");
    expect(error.message).not.toContain("wwwwwwwwww");
    // Bytes, not characters: 12,801 two-byte characters are 25,602 bytes.
    const multiByte = await rejection(client.setSecret(name, "é".repeat(12_801)));
    expect(multiByte.statusCode).toBe(400);
  });

  it("refuses more than 15 tags", async () => {
    const client = secretClient(server);
    const tags = Object.fromEntries(Array.from({ length: 16 }, (_, index) => [`k${index}`, "v"]));
    const error = await rejection(client.setSecret(uniqueName(), "x", { tags }));
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe("BadParameter");
  });
});

describe("soft delete, purge and recover", () => {
  it("deletes through a poller that really polls /deletedsecrets until the object appears", async () => {
    const client = secretClient(server);
    const name = uniqueName();
    await client.setSecret(name, "to-delete", { tags: { t: "1" } });
    server.control.clearRequests();

    const poller = await client.beginDeleteSecret(name, POLL);
    const deleted = await poller.pollUntilDone();
    expect(deleted.name).toBe(name);
    expect(deleted.recoveryId).toBe(`${server.vaultUrl}/deletedsecrets/${name}`);
    expect(deleted.deletedOn).toBeInstanceOf(Date);
    expect(deleted.scheduledPurgeDate?.getTime()).toBeGreaterThan(Date.now() + 89 * 24 * 3600 * 1000);
    expect(deleted.value).toBeUndefined();

    const polls = requestsTo(`/deletedsecrets/${name}`);
    expect(polls.at(-1)).toBe("GET 200");
    expect(polls.filter((line) => line === "GET 404").length).toBeGreaterThanOrEqual(1);
    expect(requestsTo(`/secrets/${name}`)).toContain("DELETE 200");

    const gone = await rejection(client.getSecret(name));
    expect(gone.statusCode).toBe(404);
    expect(gone.code).toBe("SecretNotFound");

    const fetched = await client.getDeletedSecret(name);
    expect(fetched.properties.tags).toEqual({ t: "1" });
    expect(fetched.value).toBeUndefined();
    const listed: string[] = [];
    for await (const item of client.listDeletedSecrets()) listed.push(item.name);
    expect(listed).toContain(name);
  });

  it("answers 409 ObjectIsDeletedButRecoverable when a deleted name is set again", async () => {
    const client = secretClient(server);
    const name = uniqueName();
    await client.setSecret(name, "x");
    await (await client.beginDeleteSecret(name, POLL)).pollUntilDone();
    const error = await rejection(client.setSecret(name, "y"));
    expect(error.statusCode).toBe(409);
    expect(error.code).toBe("Conflict");
    expect(innerCode(error)).toBe("ObjectIsDeletedButRecoverable");
  });

  it("purges with 204, then keeps the name blocked with 409 for the configured time", async () => {
    const client = secretClient(server);
    const name = uniqueName();
    await client.setSecret(name, "x");
    await (await client.beginDeleteSecret(name, POLL)).pollUntilDone();
    server.control.clearRequests();
    await client.purgeDeletedSecret(name);
    expect(requestsTo(`/deletedsecrets/${name}`)).toEqual(["DELETE 204"]);
    const purgedAt = Date.now();

    expect((await rejection(client.getDeletedSecret(name))).statusCode).toBe(404);
    const blocked = await rejection(client.setSecret(name, "again"));
    expect(blocked.statusCode).toBe(409);
    expect(blocked.code).toBe("Conflict");
    expect(blocked.message).toContain("being deleted");

    await sleep(Math.max(0, purgedAt + TIMINGS.purgeDelayMs + 50 - Date.now()));
    expect((await client.setSecret(name, "again")).value).toBe("again");
  });

  it("answers 409 to purge before the deletion has finished", async () => {
    const client = secretClient(server);
    const name = uniqueName();
    await client.setSecret(name, "x");
    await client.beginDeleteSecret(name, POLL);
    const error = await rejection(client.purgeDeletedSecret(name));
    expect(error.statusCode).toBe(409);
    expect(innerCode(error)).toBe("ObjectIsBeingDeleted");
  });

  it("recovers through a poller that waits for the secret to come back", async () => {
    const client = secretClient(server);
    const name = uniqueName();
    // Recovery brings back every version, with its enabled state.
    const older = await client.setSecret(name, "older");
    const disabled = await client.setSecret(name, "disabled");
    await client.updateSecretProperties(name, disabled.properties.version ?? "", { enabled: false });
    const original = await client.setSecret(name, "keep-me", { contentType: "text/plain" });
    await (await client.beginDeleteSecret(name, POLL)).pollUntilDone();
    server.control.clearRequests();

    const recovered = await (await client.beginRecoverDeletedSecret(name, POLL)).pollUntilDone();
    expect(recovered.name).toBe(name);
    expect(requestsTo(`/deletedsecrets/${name}/recover`)).toEqual(["POST 200"]);
    // After the recover POST, the poller must have seen the secret still missing before it came back.
    const log = server.control.requests();
    const afterRecover = log.slice(log.findIndex((entry) => entry.path.endsWith("/recover")) + 1);
    const gets = requestsTo(`/secrets/${name}/`, afterRecover);
    expect(gets[0]).toBe("GET 404");
    expect(gets.at(-1)).toBe("GET 200");

    const secret = await client.getSecret(name);
    expect(secret.value).toBe("keep-me");
    expect(secret.properties.version).toBe(original.properties.version);
    expect((await client.getSecret(name, { version: older.properties.version ?? "" })).value).toBe("older");
    expect(secret.properties.contentType).toBe("text/plain");
    expect((await rejection(client.getDeletedSecret(name))).statusCode).toBe(404);
    const versions = [];
    for await (const properties of client.listPropertiesOfSecretVersions(name)) versions.push(properties);
    expect(versions).toHaveLength(3);
    expect(versions.find((properties) => properties.version === disabled.properties.version)?.enabled).toBe(false);
    expect((await rejection(client.getSecret(name, { version: disabled.properties.version ?? "" }))).statusCode).toBe(
      403,
    );
  });

  it("in purge-protected mode answers 403 to purge, reports Recoverable, and still recovers", async () => {
    const client = secretClient(server);
    server.control.configure({ purgeProtected: true });
    try {
      const name = uniqueName();
      const set = await client.setSecret(name, "protected");
      expect(set.properties.recoveryLevel).toBe("Recoverable");
      await (await client.beginDeleteSecret(name, POLL)).pollUntilDone();
      const error = await rejection(client.purgeDeletedSecret(name));
      expect(error.statusCode).toBe(403);
      expect(error.code).toBe("Forbidden");
      expect((await client.getDeletedSecret(name)).name).toBe(name);
      await (await client.beginRecoverDeletedSecret(name, POLL)).pollUntilDone();
      expect((await client.getSecret(name)).value).toBe("protected");
    } finally {
      server.control.configure({ purgeProtected: false });
    }
  });
});

describe("api-version", () => {
  it("accepts 7.5 through 2026-04-01, and refuses a missing or older one with 400", async () => {
    const token = await managedIdentityToken(server);
    server.control.clearRequests();
    for (const version of server.apiVersions) {
      const response = await rawRequest(server, "GET", `/secrets?api-version=${version}&maxresults=1`, { token });
      expect(response.status, version).toBe(200);
    }
    // The log records the version each request sent, and a next page's $skiptoken.
    expect(server.control.requests().map((entry) => entry.apiVersion)).toEqual(server.apiVersions);
    await rawRequest(server, "GET", "/secrets?api-version=7.5&maxresults=1&$skiptoken=x", { token });
    expect(server.control.requests().at(-1)).toMatchObject({ apiVersion: "7.5", skipToken: true });
    for (const path of ["/secrets", "/secrets?api-version=7.4", "/secrets?api-version=2099-01-01"]) {
      const response = await rawRequest(server, "GET", path, { token });
      expect(response.status, path).toBe(400);
      expect((response.body as { error: { code: string } }).error.code).toBe("BadParameter");
    }
  });

  it("serves an SDK client pinned to the oldest accepted version", async () => {
    const client = secretClient(server, clientSecretCredential(server), { serviceVersion: "7.5" });
    const name = uniqueName();
    await client.setSecret(name, "old-api");
    expect((await client.getSecret(name)).value).toBe("old-api");
  });
});

describe("authentication", () => {
  it("challenges an anonymous request with Azure's WWW-Authenticate header", async () => {
    const response = await rawRequest(server, "GET", `/secrets?${API}`);
    expect(response.status).toBe(401);
    expect(response.headers["www-authenticate"]).toBe(
      `Bearer authorization="${server.authorityHost}/${server.tenantId}", resource="https://vault.azure.net"`,
    );
    expect(response.body).toEqual({
      error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." },
    });
  });

  it("lets the SDK answer the challenge and replay the request with the body it held back", async () => {
    const client = secretClient(server);
    const name = uniqueName();
    server.control.clearRequests();
    const set = await client.setSecret(name, "after-challenge");
    expect(set.value).toBe("after-challenge");
    expect(requestsTo(`/secrets/${name}`)).toEqual(["PUT 401", "PUT 200"]);
    const entries = server.control.requests();
    expect(entries.some((entry) => entry.path.endsWith("/oauth2/v2.0/token") && entry.status === 200)).toBe(true);
  });

  it("refuses unknown, revoked, expired and wrong-audience tokens with 401", async () => {
    const path = `/secrets?${API}`;
    const forged = await rawRequest(server, "GET", path, { token: "eyJhbGciOiJub25lIn0.e30.forged" });
    expect(forged.status).toBe(401);
    expect(forged.headers["www-authenticate"]).toContain("resource=");

    const wrongAudience = await managedIdentityToken(server, "https://management.azure.com/");
    expect((await rawRequest(server, "GET", path, { token: wrongAudience })).status).toBe(401);

    const revoked = await managedIdentityToken(server);
    expect((await rawRequest(server, "GET", path, { token: revoked })).status).toBe(200);
    server.control.revokeTokens();
    expect((await rawRequest(server, "GET", path, { token: revoked })).status).toBe(401);

    server.control.configure({ tokenLifetimeSeconds: 1 });
    try {
      const expiring = await managedIdentityToken(server);
      expect((await rawRequest(server, "GET", path, { token: expiring })).status).toBe(200);
      await sleep(1100);
      const expired = await rawRequest(server, "GET", path, { token: expiring });
      expect(expired.status).toBe(401);
      expect((expired.body as { error: { message: string } }).error.message).toContain("expired");
    } finally {
      server.control.configure({ tokenLifetimeSeconds: 3600 });
    }
  });

  it("has the SDK fetch a new token once the one it holds has expired", async () => {
    server.control.configure({ tokenLifetimeSeconds: 2 });
    try {
      const client = secretClient(server);
      const name = uniqueName();
      await client.setSecret(name, "x");
      await sleep(2200);
      server.control.clearRequests();
      expect((await client.getSecret(name)).value).toBe("x");
      const tokenRequests = server.control.requests().filter((entry) => entry.path.endsWith("/oauth2/v2.0/token"));
      expect(tokenRequests.map((entry) => entry.status)).toEqual([200]);
      expect(requestsTo(`/secrets/${name}/`)).toEqual(["GET 200"]);
    } finally {
      server.control.configure({ tokenLifetimeSeconds: 3600 });
    }
  });

  it("serves ManagedIdentityCredential through DefaultAzureCredential (App Service endpoint)", async () => {
    const saved = { ...process.env };
    // Anything EnvironmentCredential or workload identity would pick up first is set aside.
    for (const key of Object.keys(process.env)) {
      if (key.startsWith("AZURE_") || key.startsWith("MSI_") || key.startsWith("IDENTITY_")) delete process.env[key];
    }
    process.env.IDENTITY_ENDPOINT = server.identityEndpoint;
    process.env.IDENTITY_HEADER = server.identityHeader;
    try {
      const client = secretClient(server, new DefaultAzureCredential());
      const name = uniqueName();
      server.control.clearRequests();
      await client.setSecret(name, "via-managed-identity");
      expect((await client.getSecret(name)).value).toBe("via-managed-identity");
      const identity = server.control.requests().filter((entry) => entry.listener === "identity");
      expect(identity).toEqual([
        { method: "GET", path: "/msi/token", status: 200, listener: "identity", apiVersion: "2019-08-01" },
      ]);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });

  it("refuses the managed-identity request without the right header or api-version", async () => {
    const url = new URL(server.identityEndpoint);
    url.searchParams.set("api-version", "2019-08-01");
    url.searchParams.set("resource", server.resource);
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { "X-IDENTITY-HEADER": "wrong" } })).status).toBe(401);
    const good = await fetch(url, { headers: { "X-IDENTITY-HEADER": server.identityHeader } });
    const body = (await good.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ resource: server.resource, token_type: "Bearer" });
    expect(Number(body.expires_on)).toBeGreaterThan(Date.now() / 1000);
    url.searchParams.set("api-version", "2017-09-01");
    expect((await fetch(url, { headers: { "X-IDENTITY-HEADER": server.identityHeader } })).status).toBe(400);
  });

  it("refuses a wrong client secret with invalid_client, and never echoes it", async () => {
    const wrongSecret = `wrong-${randomUUID()}`;
    const client = secretClient(server, clientSecretCredential(server, wrongSecret));
    const error = await rejection(client.getSecret(uniqueName()));
    // @azure/identity 4.14 wraps every MSAL ServerError, Entra's invalid_client included, this way.
    expect(error.name).toBe("AuthenticationRequiredError");
    expect(String(error.message)).toContain("invalid_client");
    expect(String(error.message)).toContain("AADSTS7000215");
    expect(String(error.message)).not.toContain(wrongSecret);

    const form = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: server.clientId,
      client_secret: wrongSecret,
      scope: "https://vault.azure.net/.default",
    });
    const tokenResponse = await rawRequest(server, "POST", `/${server.tenantId}/oauth2/v2.0/token`, { form });
    expect(tokenResponse.status).toBe(401);
    expect(tokenResponse.body).toMatchObject({ error: "invalid_client", error_codes: [7000215] });
    expect(JSON.stringify(tokenResponse.body)).not.toContain(wrongSecret);
  });

  it("serves OIDC discovery for the tenant only", async () => {
    const good = await rawRequest(server, "GET", `/${server.tenantId}/v2.0/.well-known/openid-configuration`);
    expect(good.status).toBe(200);
    expect(good.body).toMatchObject({
      issuer: `${server.authorityHost}/${server.tenantId}/v2.0`,
      token_endpoint: `${server.authorityHost}/${server.tenantId}/oauth2/v2.0/token`,
    });
    const other = await rawRequest(server, "GET", `/${randomUUID()}/v2.0/.well-known/openid-configuration`);
    expect(other.status).toBe(400);
    expect(other.body).toMatchObject({ error: "invalid_tenant" });
  });
});

describe("control endpoint faults", () => {
  it("injects 429 with Retry-After, which the SDK waits out and retries", async () => {
    const client = secretClient(server);
    const name = uniqueName();
    await client.setSecret(name, "throttled");
    server.control.clearRequests();
    server.control.injectFault({
      kind: "status",
      status: 429,
      retryAfterSeconds: 1,
      method: "GET",
      pathPrefix: "/secrets/",
    });
    const started = Date.now();
    expect((await client.getSecret(name)).value).toBe("throttled");
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(requestsTo(`/secrets/${name}/`)).toEqual(["GET 429", "GET 200"]);
    expect(server.control.requests()[0]?.fault).toBe("status");
  });

  it("injects a 500 the SDK retries, and surfaces it once the retries run out", async () => {
    const client = secretClient(server, clientSecretCredential(server), {
      retryOptions: { retryDelayInMs: 10, maxRetryDelayInMs: 20, maxRetries: 2 },
    });
    const name = uniqueName();
    await client.setSecret(name, "flaky");
    server.control.clearRequests();
    server.control.injectFault({ kind: "status", status: 500, method: "GET" });
    expect((await client.getSecret(name)).value).toBe("flaky");
    expect(requestsTo(`/secrets/${name}/`)).toEqual(["GET 500", "GET 200"]);

    server.control.clearRequests();
    server.control.injectFault({ kind: "status", status: 500, method: "GET", count: 10 });
    const error = await rejection(client.getSecret(name));
    expect(error.statusCode).toBe(500);
    expect(error.code).toBe("InternalServerError");
    expect(requestsTo(`/secrets/${name}/`)).toEqual(["GET 500", "GET 500", "GET 500"]);
    expect(server.control.pendingFaults()).toEqual([expect.objectContaining({ status: 500, count: 7 })]);
  });

  it("drops a connection, which the SDK retries", async () => {
    const client = secretClient(server);
    const name = uniqueName();
    await client.setSecret(name, "dropped-once");
    server.control.clearRequests();
    server.control.injectFault({ kind: "drop", method: "GET", pathPrefix: `/secrets/${name}` });
    expect((await client.getSecret(name)).value).toBe("dropped-once");
    expect(requestsTo(`/secrets/${name}/`)).toEqual(["GET dropped", "GET 200"]);
  });

  it("delays only the requests matching method and path", async () => {
    const client = secretClient(server);
    const name = uniqueName();
    await client.setSecret(name, "slow");
    server.control.injectFault({ kind: "delay", delayMs: 800, method: "PUT", count: 1 });
    const fastStart = Date.now();
    await client.getSecret(name);
    expect(Date.now() - fastStart).toBeLessThan(800);
    const slowStart = Date.now();
    await client.setSecret(name, "slow-2");
    expect(Date.now() - slowStart).toBeGreaterThanOrEqual(790);
    expect(server.control.pendingFaults()).toEqual([]);
  });

  it("never records bodies or values in the request log", async () => {
    const client = secretClient(server);
    const value = `log-probe-${randomUUID()}`;
    server.control.clearRequests();
    await client.setSecret(uniqueName(), value);
    const log = server.control.requests();
    expect(log.length).toBeGreaterThan(0);
    expect(JSON.stringify(log)).not.toContain(value);
    for (const entry of log) {
      const optional = ["apiVersion", "skipToken", "fault"].filter((key) => key in entry);
      expect(Object.keys(entry).sort()).toEqual(["listener", "method", "path", "status", ...optional].sort());
    }
  });

  it("offers the same control over HTTPS, without a bearer token", async () => {
    const scratch = await startKeyVaultServer(TIMINGS);
    try {
      const control = createControlClient(scratch, scratch.caCertPem);
      expect(await control.health()).toBe(true);
      expect(await control.configure({ purgeProtected: true, deleteDelayMs: 50 })).toMatchObject({
        purgeProtected: true,
        deleteDelayMs: 50,
      });
      expect((await control.config()).purgeProtected).toBe(true);
      await expect(control.configure({ tokenLifetimeSeconds: 0 })).rejects.toThrow(/400/);
      await expect(control.injectFault({ kind: "status", status: 200 })).rejects.toThrow(/400/);

      const id = await control.injectFault({ kind: "status", status: 503, method: "GET", count: 2 });
      expect(await control.pendingFaults()).toEqual([{ id, kind: "status", status: 503, method: "GET", count: 2 }]);
      await control.clearFaults();
      expect(await control.pendingFaults()).toEqual([]);

      const client = secretClient(scratch);
      const name = uniqueName();
      await client.setSecret(name, "x");
      expect((await control.requests()).map((entry) => `${entry.method} ${entry.status}`)).toContain("PUT 200");
      await control.clearRequests();
      expect(await control.requests()).toEqual([]);

      const token = await managedIdentityToken(scratch);
      expect((await rawRequest(scratch, "GET", `/secrets?${API}`, { token })).status).toBe(200);
      await control.revokeTokens();
      expect((await rawRequest(scratch, "GET", `/secrets?${API}`, { token })).status).toBe(401);

      await control.reset();
      expect((await control.config()).purgeProtected).toBe(false);
      const fresh = await managedIdentityToken(scratch);
      const listed = await rawRequest(scratch, "GET", `/secrets?${API}`, { token: fresh });
      expect((listed.body as { value: unknown[] }).value).toEqual([]);
    } finally {
      await scratch.close();
    }
  });

  it("resets secrets, faults and config", async () => {
    const scratch = await startKeyVaultServer(TIMINGS);
    try {
      const info: TestServerInfo = scratch;
      const client = secretClient(info);
      const name = uniqueName();
      await client.setSecret(name, "x");
      scratch.control.configure({ purgeProtected: true });
      scratch.control.injectFault({ kind: "status", status: 503, method: "DELETE" });
      scratch.control.reset();
      expect(scratch.control.pendingFaults()).toEqual([]);
      expect(scratch.control.config().purgeProtected).toBe(false);
      expect(scratch.control.requests()).toEqual([]);
      expect((await rejection(client.getSecret(name))).statusCode).toBe(404);
    } finally {
      await scratch.close();
    }
  });
});

describe("main.ts as a separate process", () => {
  const repoRoot = fileURLToPath(new URL("../../../..", import.meta.url));

  function exitOf(child: ChildProcess): Promise<number | null> {
    if (child.exitCode !== null) return Promise.resolve(child.exitCode);
    return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  }

  function output(child: ChildProcess): () => string {
    let text = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8");
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8");
    });
    return () => text;
  }

  async function waitForFile(path: string, child: ChildProcess, log: () => string): Promise<string> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`main.ts exited with ${child.exitCode}: ${log()}`);
      try {
        return await readFile(path, "utf8");
      } catch {
        await sleep(100);
      }
    }
    throw new Error(`main.ts wrote no ${path} within 30 s: ${log()}`);
  }

  it("starts from the CLI, serves the SDK and the control API, trusts via NODE_EXTRA_CA_CERTS, stops on SIGTERM", async () => {
    const stateDir = await mkdtemp(join(tmpdir(), "omnisecret-keyvault-main-"));
    const infoFile = join(stateDir, "info.json");
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        fileURLToPath(new URL("./main.ts", import.meta.url)),
        ...["--port", "0", "--identity-port", "0", "--state-dir", stateDir, "--info-file", infoFile],
        ...["--delete-delay-ms", "100"],
      ],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
    );
    const log = output(child);
    try {
      const description = JSON.parse(await waitForFile(infoFile, child, log)) as TestServerInfo & { pid: number };
      expect(description.pid).toBe(child.pid);
      expect(description.vaultUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(description.identityEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/msi\/token$/);
      const info: TestServerInfo = { ...description, caCertPem: await readFile(description.caCertFile, "utf8") };
      // The stdout line leaves the credentials out; the 0600 info file has them.
      expect(log()).not.toContain(description.clientSecret);

      const client = secretClient(info);
      const name = uniqueName("cli");
      await client.setSecret(name, "from-cli");
      expect((await client.getSecret(name)).value).toBe("from-cli");

      const control = createControlClient(info, info.caCertPem);
      await control.injectFault({
        kind: "status",
        status: 429,
        retryAfterSeconds: 0,
        method: "GET",
        pathPrefix: "/secrets/",
      });
      expect((await client.getSecret(name)).value).toBe("from-cli");
      const statuses = (await control.requests())
        .filter((entry) => entry.path === `/secrets/${name}/`)
        .map((entry) => entry.status);
      expect(statuses).toEqual([200, 429, 200]);

      // A process that trusts the CA through NODE_EXTRA_CA_CERTS needs no tlsOptions at all.
      const script = `
        import { SecretClient } from "@azure/keyvault-secrets";
        import { ClientSecretCredential } from "@azure/identity";
        const info = JSON.parse(process.env.KV_INFO);
        const credential = new ClientSecretCredential(info.tenantId, info.clientId, info.clientSecret, {
          authorityHost: info.authorityHost, disableInstanceDiscovery: true });
        const client = new SecretClient(info.vaultUrl, credential, { disableChallengeResourceVerification: true });
        const secret = await client.getSecret(process.env.KV_NAME);
        process.stdout.write(secret.value === "from-cli" ? "matched" : "mismatched");`;
      const grandchild = spawn(process.execPath, ["--input-type=module", "-e", script], {
        cwd: repoRoot,
        env: {
          ...process.env,
          NODE_EXTRA_CA_CERTS: description.caCertFile,
          KV_INFO: JSON.stringify(description),
          KV_NAME: name,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const grandchildLog = output(grandchild);
      expect(await exitOf(grandchild), grandchildLog()).toBe(0);
      expect(grandchildLog()).toBe("matched");
    } finally {
      child.kill("SIGTERM");
      const code = await exitOf(child);
      await rm(stateDir, { recursive: true, force: true });
      expect(code, log()).toBe(0);
    }
  });
});
