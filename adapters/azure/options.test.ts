import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { configFromSources, resolveConfig } from "../../src/config.js";
import { SecretStore } from "../../src/secret-store.js";
import { expectConfigError } from "../../test-support/expect-config-error.js";
import { AzureKeyVaultAdapter } from "./index.js";
import { AZURE_MAX_VALUE_BYTES, AZURE_SERVICE_VERSIONS, azureOptionsSchema } from "./options.js";

const vaultUrl = "https://my-vault.vault.azure.net";

describe("Azure options", () => {
  it("fills in the defaults", () => {
    expect(v.parse(azureOptionsSchema, { provider: "azure", vaultUrl })).toEqual({
      provider: "azure",
      prefix: "omnisecret",
      vaultUrl,
      disableChallengeResourceVerification: false,
      owner: "default",
      verifyOwnership: false,
      deletePolicy: "purge",
      keepVersions: 1,
      pruneAction: "disable",
      maxAttempts: 4,
      requestTimeoutMs: 10_000,
      operationTimeoutMs: 20_000,
      maxValueBytes: 25_600,
      listPageSize: 25,
    });
    expect(AZURE_MAX_VALUE_BYTES).toBe(25_600);
  });

  it.each([
    ["no vaultUrl", {}, "vaultUrl"],
    ["a vaultUrl that is not a URL", { vaultUrl: "my-vault" }, "vaultUrl"],
    ["plain http to another host", { vaultUrl: "http://my-vault.vault.azure.net" }, "vaultUrl"],
    ["plain http to a private address", { vaultUrl: "http://10.0.0.4:8443" }, "vaultUrl"],
    ["an unknown deletePolicy", { vaultUrl, deletePolicy: "hard" }, "deletePolicy"],
    ["an unknown pruneAction", { vaultUrl, pruneAction: "delete" }, "pruneAction"],
    ["keepVersions 0", { vaultUrl, keepVersions: 0 }, "keepVersions"],
    ["keepVersions above 100", { vaultUrl, keepVersions: 101 }, "keepVersions"],
    ["maxValueBytes above Key Vault's limit", { vaultUrl, maxValueBytes: 25_601 }, "maxValueBytes"],
    ["a page size above 25", { vaultUrl, listPageSize: 26 }, "listPageSize"],
    ["zero attempts", { vaultUrl, maxAttempts: 0 }, "maxAttempts"],
    ["an empty owner", { vaultUrl, owner: "" }, "owner"],
    // prefix (48) + owner (40) + UUID (36) and two dashes fit Key Vault's 127-character names.
    ["an owner longer than 40", { vaultUrl, owner: "o".repeat(41) }, "owner"],
    ["an owner with a character Key Vault names lack", { vaultUrl, owner: "team_a" }, "owner"],
    ["an uppercase owner (names are case-insensitive)", { vaultUrl, owner: "Team-A" }, "owner"],
    ["a verifyOwnership that is not a boolean", { vaultUrl, verifyOwnership: "yes" }, "verifyOwnership"],
    ["a credential without its secret", { vaultUrl, credential: { tenantId: "t", clientId: "c" } }, "credential"],
    [
      "an http authority host",
      { vaultUrl, credential: { tenantId: "t", clientId: "c", clientSecret: "s", authorityHost: "http://login" } },
      "credential",
    ],
    ["a serviceVersion the SDK does not know", { vaultUrl, serviceVersion: "2027-01-01" }, "serviceVersion"],
    ["a serviceVersion as a number", { vaultUrl, serviceVersion: 7.5 }, "serviceVersion"],
    ["an unknown field", { vaultUrl, tlsVerify: false }, undefined],
  ])("refuses %s, naming the field", async (_case, fields, field) => {
    const error = await expectConfigError(() => resolveConfig({ provider: "azure", ...fields }));
    expect(error.provider).toBe("azure");
    if (field) expect(error.field).toMatch(new RegExp(`^${field}`));
    else expect(error.message).toContain('"tlsVerify"');
  });

  it.each(["http://127.0.0.1:8443", "http://localhost:8443", "http://[::1]:8443", "https://127.0.0.1:8443"])(
    "accepts %s",
    (url) => {
      expect(v.safeParse(azureOptionsSchema, { provider: "azure", vaultUrl: url }).success).toBe(true);
    },
  );

  it("puts the owner in the name, and the longest prefix and owner still make a valid Key Vault name", () => {
    const id = randomUUID();
    const options = v.parse(azureOptionsSchema, {
      provider: "azure",
      vaultUrl,
      owner: `o${"-".repeat(38)}o`,
      client: { getSecret: async () => ({}), setSecret: async () => ({}) },
    });
    const prefix = `p${"0".repeat(46)}p`;
    const name = new AzureKeyVaultAdapter(options, { prefix }).nameOf(id);
    expect(name).toBe(`${prefix}-${options.owner}-${id}`);
    expect(name).toMatch(/^[0-9a-zA-Z-]{1,127}$/);
  });

  it("accepts a client secret credential, or any TokenCredential from code", () => {
    const secret = { tenantId: "t", clientId: "c", clientSecret: "s", authorityHost: "https://login.example" };
    expect(v.parse(azureOptionsSchema, { provider: "azure", vaultUrl, credential: secret }).credential).toEqual(secret);
    const tokenCredential = { getToken: async () => ({ token: "x", expiresOnTimestamp: Date.now() + 60_000 }) };
    expect(v.parse(azureOptionsSchema, { provider: "azure", vaultUrl, credential: tokenCredential }).credential).toBe(
      tokenCredential,
    );
  });

  it("reads its fields from OMNISECRET_AZURE_* and the vault from AZURE_KEYVAULT_URL", async () => {
    const env = {
      OMNISECRET_PROVIDER: "azure",
      AZURE_KEYVAULT_URL: vaultUrl,
      OMNISECRET_AZURE_DELETE_POLICY: "soft",
      OMNISECRET_AZURE_PRUNE_ACTION: "none",
      OMNISECRET_AZURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: "true",
      OMNISECRET_AZURE_MAX_ATTEMPTS: "2",
      OMNISECRET_AZURE_OWNER: "server-7",
      OMNISECRET_AZURE_VERIFY_OWNERSHIP: "true",
      OMNISECRET_AZURE_CREDENTIAL_TENANT_ID: "tenant",
      OMNISECRET_AZURE_CREDENTIAL_CLIENT_ID: "client",
      OMNISECRET_AZURE_CREDENTIAL_CLIENT_SECRET: "client-secret-value",
      OMNISECRET_AZURE_CA_CERT_FILE: "/etc/ssl/test-ca.pem",
      OMNISECRET_AZURE_SERVICE_VERSION: "7.6",
      OMNISECRET_AZURE_KEEP_VERSIONS: "3",
    };
    const { config } = await resolveConfig(configFromSources({ env }));
    expect(config).toMatchObject({
      provider: "azure",
      vaultUrl,
      deletePolicy: "soft",
      keepVersions: 3,
      pruneAction: "none",
      disableChallengeResourceVerification: true,
      maxAttempts: 2,
      owner: "server-7",
      verifyOwnership: true,
      credential: { tenantId: "tenant", clientId: "client", clientSecret: "client-secret-value" },
      caCertFile: "/etc/ssl/test-ca.pem",
      serviceVersion: "7.6",
    });
    const own = configFromSources({
      env: { ...env, OMNISECRET_AZURE_VAULT_URL: "https://other.vault.azure.net" },
    });
    expect(own.vaultUrl).toBe("https://other.vault.azure.net");
  });

  it("never shows the client secret when the store is inspected or serialised", async () => {
    const store = await SecretStore.create({
      provider: "azure",
      vaultUrl,
      credential: { tenantId: "tenant", clientId: "client", clientSecret: "client-secret-value" },
    });
    expect(inspect(store, { depth: 10 })).not.toContain("client-secret-value");
    expect(JSON.stringify(store)).not.toContain("client-secret-value");
    await store.close();
  });

  it("refuses a caCertFile it cannot read, naming the field", async () => {
    const error = await expectConfigError(() =>
      SecretStore.create({ provider: "azure", vaultUrl, caCertFile: "/nonexistent/ca.pem" }),
    );
    expect(error.field).toBe("caCertFile");
  });

  it("refuses an unknown serviceVersion from the environment before any request, naming the field", async () => {
    const error = await expectConfigError(() =>
      SecretStore.fromEnv({
        OMNISECRET_PROVIDER: "azure",
        AZURE_KEYVAULT_URL: vaultUrl,
        OMNISECRET_AZURE_SERVICE_VERSION: "7.7",
      }),
    );
    expect(error.field).toBe("serviceVersion");
    expect(error.message).toContain("2025-07-01");
  });

  it("accepts every version the SDK knows", () => {
    for (const serviceVersion of AZURE_SERVICE_VERSIONS) {
      expect(v.parse(azureOptionsSchema, { provider: "azure", vaultUrl, serviceVersion }).serviceVersion).toBe(
        serviceVersion,
      );
    }
  });

  it("sends serviceVersion as the api-version of its requests, and the SDK's default without it", async () => {
    // A vault on loopback that answers every request 404: the SDK's first request goes without a
    // token (to get the challenge), so the credential is never asked.
    const seen: string[] = [];
    const server = createServer((request, response) => {
      seen.push(request.url ?? "");
      response.writeHead(404, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: { code: "SecretNotFound", message: "not found" } }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const local = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const credential = {
      getToken: async () => {
        throw new Error("no token is needed for a 404");
      },
    };
    try {
      const sent = async (extra: Record<string, unknown>) => {
        seen.length = 0;
        const store = await SecretStore.create({
          provider: "azure",
          vaultUrl: local,
          credential,
          maxAttempts: 1,
          ...extra,
        });
        try {
          await expect(store.getSecretValues(randomUUID())).rejects.toMatchObject({ code: "E_SECRET_NOT_FOUND" });
        } finally {
          await store.close();
        }
        expect(seen).toHaveLength(1);
        return new URL(seen[0] as string, local).searchParams.get("api-version");
      };
      expect(await sent({ serviceVersion: "7.5" })).toBe("7.5");
      expect(await sent({ serviceVersion: "2025-07-01" })).toBe("2025-07-01");
      // @azure/keyvault-secrets 4.12's LATEST_API_VERSION.
      expect(await sent({})).toBe("2026-04-01");
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
