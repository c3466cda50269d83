import * as v from "valibot";
import {
  cloudOptionsSchema,
  injectedClientSchema,
  integer,
  isLoopbackHost,
  urlSchema,
} from "../../src/config-schema.js";

/**
 * A `TokenCredential` (`@azure/core-auth`, what `@azure/identity`'s credentials implement) and a
 * `SecretClient` of `@azure/keyvault-secrets`, as much of them as the types need: written out so
 * that omnisecret's types compile without the SDKs installed.
 */
export interface AzureTokenCredential {
  getToken(scopes: string | string[], options?: unknown): Promise<unknown>;
}
export interface AzureSecretClient {
  getSecret(name: string, options?: unknown): Promise<unknown>;
  setSecret(name: string, value: string, options?: unknown): Promise<unknown>;
}

/**
 * Key Vault's documented limit on a secret's value is 25 KB; the service reports it as 25,600
 * ("beyond the maximum permitted length of 25600 characters"). The facade counts UTF-8 bytes of
 * `JSON.stringify(values)`, and a string never has more UTF-16 characters than UTF-8 bytes, so
 * 25,600 bytes fits whether the service counts characters or bytes.
 */
export const AZURE_MAX_VALUE_BYTES = 25_600;

/**
 * The Key Vault API versions `@azure/keyvault-secrets` 4.12 accepts as `serviceVersion` (its
 * `SecretClientOptions["serviceVersion"]`; index.ts checks at compile time that the two lists are
 * the same). Written out here so that the options schema loads without the SDK.
 */
export const AZURE_SERVICE_VERSIONS = [
  "7.0",
  "7.1",
  "7.2",
  "7.3",
  "7.4",
  "7.5",
  "7.6",
  "2025-07-01",
  "2026-04-01",
] as const;
export type AzureServiceVersion = (typeof AZURE_SERVICE_VERSIONS)[number];

/** Whether a URL's host is this machine, where plain HTTP cannot be overheard. */
export function isLoopbackUrl(url: URL): boolean {
  return isLoopbackHost(url.hostname);
}

const vaultUrlSchema = v.pipe(
  urlSchema(["http", "https"]),
  v.check((value) => {
    // valibot runs this check after a failed URL check too; that one reports the problem.
    if (!URL.canParse(value)) return true;
    const url = new URL(value);
    return url.protocol === "https:" || isLoopbackUrl(url);
  }, "must use https (plain http is accepted for a loopback host only)"),
);

/** A service principal's secret: `ClientSecretCredential`. */
const clientSecretCredentialSchema = v.strictObject({
  tenantId: v.pipe(v.string(), v.minLength(1)),
  clientId: v.pipe(v.string(), v.minLength(1)),
  clientSecret: v.pipe(v.string(), v.minLength(1)),
  /**
   * The Microsoft Entra authority, for sovereign clouds or a test server; instance discovery is
   * turned off for a host that is not one of Azure's own.
   * @default "https://login.microsoftonline.com"
   */
  authorityHost: v.optional(urlSchema(["https"])),
});

/** A `TokenCredential` built in code (any of `@azure/identity`'s, or your own). */
const tokenCredentialSchema = v.custom<AzureTokenCredential>(
  (value) =>
    typeof value === "object" && value !== null && typeof (value as { getToken?: unknown }).getToken === "function",
  "must be a TokenCredential",
);

/**
 * The options every cloud adapter shares that Azure takes; 4 attempts is the Azure SDK's default of
 * 3 retries after the first.
 */
const SHARED_OPTIONS = { maxAttempts: 4, caCertFile: true } as const;

export const azureOptionsSchema = cloudOptionsSchema(SHARED_OPTIONS, {
  provider: v.literal("azure"),
  /**
   * The vault, such as `https://my-vault.vault.azure.net`. Plain `http://` only for a loopback host.
   * @default `AZURE_KEYVAULT_URL`
   */
  vaultUrl: vaultUrlSchema,
  /**
   * How omnisecret signs in: `{ tenantId, clientId, clientSecret, authorityHost? }`, or from code
   * any `TokenCredential`.
   * @default `DefaultAzureCredential` (environment `AZURE_*`, workload identity, managed identity
   * through `IDENTITY_ENDPOINT`/`IDENTITY_HEADER` or IMDS, the Azure CLI)
   */
  credential: v.optional(
    v.union(
      [clientSecretCredentialSchema, tokenCredentialSchema],
      "must be { tenantId, clientId, clientSecret, authorityHost? } or a TokenCredential",
    ),
  ),
  /**
   * Skip the SDK's check that the 401 challenge's resource matches the vault's domain. Only
   * emulators and test servers, whose host is not `*.vault.azure.net`, need true.
   * @default false
   */
  disableChallengeResourceVerification: v.optional(v.boolean(), false),
  /**
   * The Key Vault API version the SDK sends (`api-version`), one of those it knows. Pin an older
   * one for a server that does not speak the newest fully: Lowkey Vault answers the next page of a
   * list (beyond 25 secrets) with 400 under 2026-04-01, so use "7.6" or "2025-07-01" there; Azure
   * Stack Hub and some sovereign clouds lag behind too.
   * @default the SDK's own (LATEST_API_VERSION: "2026-04-01" in @azure/keyvault-secrets 4.12)
   */
  serviceVersion: v.optional(v.picklist(AZURE_SERVICE_VERSIONS, `must be one of ${AZURE_SERVICE_VERSIONS.join(", ")}`)),
  /**
   * `"purge"`: delete, wait for Key Vault to finish, purge, so the id can be stored again at once.
   * `"soft"` (vaults with purge protection): leave the secret soft-deleted; a later store of its
   * id recovers it and writes the new values as a new version.
   * @default "purge"
   */
  deletePolicy: v.optional(v.picklist(["purge", "soft"]), "purge"),
  /**
   * Versions readable through omnisecret, the current one included: the latest `keepVersions`
   * versions of the secret (1: an update leaves no earlier values readable; 2: the previous
   * values stay readable, for a rotation). An update disables the versions beyond it (see
   * `pruneAction`); more than 1 costs a list of the versions on each update.
   * @default 1
   */
  keepVersions: v.optional(integer(1, 100), 1),
  /**
   * What an update does to the versions beyond `keepVersions`: `"disable"` so an old password does
   * not stay readable in the vault, or `"none"` (they stay enabled in Key Vault, but omnisecret
   * still reads none of them).
   * @default "disable"
   */
  pruneAction: v.optional(v.picklist(["disable", "none"]), "disable"),
  /**
   * Limit on `JSON.stringify(values)` in UTF-8 bytes; Key Vault's own limit (25,600) is the most.
   * @default 25600
   */
  maxValueBytes: v.optional(integer(1, AZURE_MAX_VALUE_BYTES), AZURE_MAX_VALUE_BYTES),
  /**
   * Results per page when listing (Key Vault's `maxresults`, 1-25).
   * @default 25
   */
  listPageSize: v.optional(integer(1, 25), 25),
  /** A SecretClient you built yourself (code only); vaultUrl is still required, credential, TLS, retry options and serviceVersion are then ignored. */
  client: injectedClientSchema<AzureSecretClient>("getSecret", "a SecretClient"),
});

/** Options of the Azure Key Vault provider. */
export type AzureOptions = v.InferInput<typeof azureOptionsSchema>;
export type ResolvedAzureOptions = v.InferOutput<typeof azureOptionsSchema>;
