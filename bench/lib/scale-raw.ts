/**
 * What the scale workload needs of each provider beyond the raw sides' four operations
 * (integration-tests/servers/<provider>/bench-raw.ts), with the plain SDK or client:
 *
 * - `listRaw()`: the raw side's list of its own namespace, named as its bench-raw.ts names secrets,
 *   with the fewest requests: one per page of the same page size omnisecret uses, the names
 *   filtered on the client where the server ignores the filter. Returns how many ids it found.
 * - `serverListed(prefix)`: how many keys the server lists when omnisecret's namespace at `prefix`
 *   is listed (L in the requests-per-list target): the namespace itself where the server filters
 *   (local, aws; vault's LIST shows every key under the owner's folder, deleted secrets'
 *   tombstones too), everything the server holds where it lists more (the GCP emulator ignores
 *   the filter; Key Vault lists the whole vault). Sent outside any measurement.
 * - `pageSize`: results per list request (Infinity where one request answers the whole list).
 * - `dropLeftovers(prefix)`: removes what omnisecret's deletes leave on the server (vault's
 *   tombstones), so a run leaves nothing behind; the raw side's DELETE of the metadata.
 */
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { secretNamePattern } from "../../src/validation.js";

export interface ScaleProvider {
  readonly pageSize: number;
  listRaw(): Promise<number>;
  serverListed(prefix: string): Promise<number>;
  dropLeftovers?(prefix: string): Promise<void>;
  /**
   * Sends the requests omnisecret's list of `prefix` sends, with the raw client, and returns how
   * long they took: the server's own cost of that list (vault: the paged LIST of the detailed
   * metadata). Absent where the raw side's own list already sends the same requests.
   */
  timeListRequests?(prefix: string): Promise<number>;
  close(): Promise<void>;
}

/** `omnisecretConfig` is the config omnisecret's store got; `rawConfig` the raw side's (its own file for local). */
export async function createScaleProvider(
  provider: string,
  omnisecretConfig: Record<string, unknown>,
  rawConfig: Record<string, unknown>,
  rawPrefix: string,
): Promise<ScaleProvider> {
  const owner = (omnisecretConfig.owner as string | undefined) ?? "default";
  switch (provider) {
    case "local":
      return local(omnisecretConfig, rawConfig, rawPrefix);
    case "aws":
      return aws(omnisecretConfig, rawPrefix, owner);
    case "vault":
      return vault(omnisecretConfig, rawPrefix, owner);
    case "gcp":
      return gcp(omnisecretConfig, rawPrefix, owner);
    case "azure":
      return azure(omnisecretConfig, rawPrefix, owner);
    default:
      throw new Error(`no scale support for provider ${provider}`);
  }
}

async function local(
  config: Record<string, unknown>,
  rawConfig: Record<string, unknown>,
  rawPrefix: string,
): Promise<ScaleProvider> {
  const { default: Database } = await import("better-sqlite3");
  // The raw side's own file, opened again for its list: one statement, as the adapter's list without its quick check.
  const rawDb = new Database(rawConfig.path as string, { timeout: 5_000 });
  const rawList = rawDb.prepare<[string], { id: string }>(
    "SELECT id FROM omnisecret_secrets WHERE prefix = ? ORDER BY id",
  );
  // omnisecret's file, opened once it exists (the adapter makes it on its first write).
  let db: InstanceType<typeof Database> | undefined;
  return {
    pageSize: Number.POSITIVE_INFINITY,
    async listRaw() {
      return rawList.all(rawPrefix).length;
    },
    async serverListed(prefix) {
      // The raw side's own file holds the raw prefix; omnisecret's the others.
      if (prefix === rawPrefix) return rawList.all(rawPrefix).length;
      db ??= new Database(config.path as string, { timeout: 5_000, readonly: true });
      const row = db.prepare("SELECT count(*) AS n FROM omnisecret_secrets WHERE prefix = ?").get(prefix) as {
        n: number;
      };
      return row.n;
    },
    async close() {
      rawDb.close();
      db?.close();
    },
  };
}

async function aws(config: Record<string, unknown>, rawPrefix: string, owner: string): Promise<ScaleProvider> {
  const { SecretsManagerClient, paginateListSecrets } = await import("@aws-sdk/client-secrets-manager");
  const client = new SecretsManagerClient({
    region: config.region as string,
    endpoint: config.endpoint as string,
    credentials: { ...(config.credentials as { accessKeyId: string; secretAccessKey: string }) },
    maxAttempts: 3,
  });
  const pageSize = (config.listPageSize as number | undefined) ?? 100;
  async function names(start: string): Promise<string[]> {
    const found: string[] = [];
    const pages = paginateListSecrets({ client, pageSize }, { Filters: [{ Key: "name", Values: [start] }] });
    for await (const page of pages) for (const secret of page.SecretList ?? []) found.push(secret.Name ?? "");
    return found;
  }
  return {
    pageSize,
    async listRaw() {
      const start = `${rawPrefix}/${owner}/`;
      const pattern = secretNamePattern(start);
      return (await names(start)).filter((name) => pattern.test(name)).length;
    },
    async serverListed(prefix) {
      return (await names(`${prefix}/${owner}/`)).length;
    },
    async close() {
      client.destroy();
    },
  };
}

async function vault(config: Record<string, unknown>, rawPrefix: string, owner: string): Promise<ScaleProvider> {
  const { default: nodeVault } = await import("node-vault");
  const client = nodeVault({
    endpoint: config.address as string,
    token: config.token as string,
    requestOptions: { timeout: 30_000 },
    debug: () => undefined,
  } as Parameters<typeof nodeVault>[0]);
  const mount = (config.mount as string | undefined) ?? "secret";
  async function keys(prefix: string): Promise<string[]> {
    try {
      const body = (await client.list(`${mount}/metadata/${prefix}/${owner}/`)) as { data?: { keys?: string[] } };
      return body?.data?.keys ?? [];
    } catch (error) {
      if ((error as { response?: { statusCode?: number } }).response?.statusCode === 404) return [];
      throw error;
    }
  }
  return {
    // omnisecret pages its LIST of the detailed metadata (the adapter's `listPageSize`, 10,000 by
    // default); the raw side's plain LIST answers with every key at once.
    pageSize: (config.listPageSize as number | undefined) ?? 10_000,
    async listRaw() {
      // The raw side deletes the metadata, so nothing it deleted is listed: the keys are its live ids.
      const pattern = secretNamePattern("");
      return (await keys(rawPrefix)).filter((key) => pattern.test(key)).length;
    },
    async serverListed(prefix) {
      return (await keys(prefix)).length;
    },
    async timeListRequests(prefix) {
      const pageSize = (config.listPageSize as number | undefined) ?? 10_000;
      const start = performance.now();
      for (let after: string | undefined; ; ) {
        const query = `?limit=${pageSize}${after === undefined ? "" : `&after=${encodeURIComponent(after)}`}`;
        let page: string[];
        try {
          const body = (await client.list(`${mount}/detailed-metadata/${prefix}/${owner}/${query}`)) as {
            data?: { keys?: string[] };
          };
          page = body?.data?.keys ?? [];
        } catch (error) {
          if ((error as { response?: { statusCode?: number } }).response?.statusCode === 404) break;
          throw error;
        }
        if (page.length < pageSize) break;
        after = page.at(-1);
      }
      return performance.now() - start;
    },
    async dropLeftovers(prefix) {
      const all = await keys(prefix);
      for (let start = 0; start < all.length; start += 8) {
        await Promise.all(
          all.slice(start, start + 8).map((key) => client.delete(`${mount}/metadata/${prefix}/${owner}/${key}`)),
        );
      }
    },
    async close() {},
  };
}

async function gcp(config: Record<string, unknown>, rawPrefix: string, owner: string): Promise<ScaleProvider> {
  const client = (await import("../../integration-tests/servers/gcp/bench-raw.js")).rawGcpClient(config);
  const parent = `projects/${config.projectId as string}`;
  const pageSize = (config.listPageSize as number | undefined) ?? 100;
  /** Every name the server lists for a list filtered on `start`, one request per page. */
  async function names(start: string): Promise<string[]> {
    const found: string[] = [];
    let pageToken: string | undefined;
    do {
      const [secrets, , response] = await client.listSecrets(
        { parent, filter: `name:"${start}"`, pageSize, ...(pageToken ? { pageToken } : {}) },
        { autoPaginate: false },
      );
      for (const secret of secrets ?? []) found.push(secret.name ?? "");
      pageToken = response?.nextPageToken || undefined;
    } while (pageToken);
    return found;
  }
  return {
    pageSize,
    async listRaw() {
      const start = `${rawPrefix}-${owner}-`;
      const pattern = secretNamePattern(`${parent}/secrets/${start}`);
      return (await names(start)).filter((name) => pattern.test(name)).length;
    },
    async serverListed(prefix) {
      return (await names(`${prefix}-${owner}-`)).length;
    },
    async close() {
      await client.close();
    },
  };
}

async function azure(config: Record<string, unknown>, rawPrefix: string, owner: string): Promise<ScaleProvider> {
  const { ClientSecretCredential, DefaultAzureCredential } = await import("@azure/identity");
  const { SecretClient } = await import("@azure/keyvault-secrets");
  const caCertFile = config.caCertFile as string | undefined;
  const caCert = caCertFile ? readFileSync(caCertFile, "utf8") : undefined;
  const tlsOptions = caCert ? { ca: [...rootCertificates, caCert] } : undefined;
  const secret = config.credential as
    | { tenantId: string; clientId: string; clientSecret: string; authorityHost?: string }
    | undefined;
  const credential = secret
    ? new ClientSecretCredential(secret.tenantId, secret.clientId, secret.clientSecret, {
        ...(secret.authorityHost ? { authorityHost: secret.authorityHost, disableInstanceDiscovery: true } : {}),
        ...(tlsOptions ? { tlsOptions } : {}),
      })
    : new DefaultAzureCredential(tlsOptions ? { tlsOptions } : {});
  const client = new SecretClient(config.vaultUrl as string, credential, {
    disableChallengeResourceVerification: config.disableChallengeResourceVerification === true,
    ...(caCert ? { tlsOptions: { ca: caCert } } : {}),
  });
  const pageSize = (config.listPageSize as number | undefined) ?? 25;
  async function names(): Promise<string[]> {
    const found: string[] = [];
    for await (const page of client.listPropertiesOfSecrets().byPage({ maxPageSize: pageSize })) {
      for (const properties of page) found.push(properties.name);
    }
    return found;
  }
  const provider: ScaleProvider = {
    pageSize,
    async listRaw() {
      const pattern = secretNamePattern(`${rawPrefix}-${owner}-`, "", { ignoreCase: true });
      return (await names()).filter((name) => pattern.test(name)).length;
    },
    // Key Vault lists the whole vault, whatever the namespace.
    async serverListed() {
      return (await names()).length;
    },
    async close() {},
  };
  // The client's first request is answered with a challenge, then the token is fetched: once, here.
  await provider.serverListed("");
  return provider;
}
