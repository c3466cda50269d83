/**
 * Vault KV version 2 by hand with node-vault, the fewest requests for the same effect as
 * omnisecret's default config: a secret at `<mount>/data/<prefix>/<owner>/<uuid>` (the path says
 * whose it is, so nothing is looked up for ownership), one version kept.
 *
 * - store, 1: a write with `cas: 0`. One write makes the version, and `cas: 0` refuses an existing
 *   secret in the same request. Nothing is written per secret for the version count: the mount
 *   keeps one version (`max_versions=1` in `<mount>/config`, which the test server sets once, as
 *   omnisecret's docs recommend), so no metadata write is needed.
 * - get, 1: a read of the data path (404, or no data, is not found).
 * - update, 2: a read of the data path, then a write with `cas` = the version read. A write
 *   without `cas` would create a missing secret, and PATCH merges the map instead of replacing it,
 *   so the version has to be learnt first; the read also tells not found.
 * - delete, 2: a read of the data path, then DELETE of the metadata (every version, for good).
 *   That DELETE answers 204 for a path that does not exist, so only the read tells not found.
 *
 * Unlike omnisecret (see adapters/vault/index.ts), this side does not guard against racing
 * writers: its delete restarts the version numbers and may remove a secret stored again meanwhile.
 * Its request counts are the floor for store, get and update. omnisecret's delete sends one request
 * more: its `cas` tombstone keeps the key, so it destroys the tombstone's version for list to skip
 * it without a read (issue 21); this side's DELETE removes the key itself.
 */
import nodeVault from "node-vault";
import { type BenchSide, NotFound, type RawFactory } from "../../../bench/lib/side.js";

interface DataBody {
  data?: { data?: Record<string, string> | null; metadata?: { version?: number } };
}

export const createRawVault: RawFactory = async (config, prefix) => {
  const client = nodeVault({
    endpoint: config.address as string,
    token: config.token as string,
    requestOptions: { timeout: 10_000 },
    debug: () => undefined,
    rpDefaults: { strictSSL: true },
  } as nodeVault.VaultOptions);
  const mount = (config.mount as string | undefined) ?? "secret";
  const owner = (config.owner as string | undefined) ?? "default";
  const dataPath = (id: string) => `${mount}/data/${prefix}/${owner}/${id}`;
  const metadataPath = (id: string) => `${mount}/metadata/${prefix}/${owner}/${id}`;
  const isNotFound = (error: unknown) => (error as { response?: { statusCode?: number } }).response?.statusCode === 404;

  /** The latest version's data and number; NotFound for a missing or deleted secret. */
  async function latest(id: string): Promise<{ values: Record<string, string>; version: number }> {
    let body: DataBody;
    try {
      body = await client.read(dataPath(id));
    } catch (error) {
      if (isNotFound(error)) throw new NotFound(id);
      throw error;
    }
    const values = body?.data?.data;
    const version = body?.data?.metadata?.version;
    if (!values || typeof version !== "number") throw new NotFound(id);
    return { values, version };
  }

  const side: BenchSide = {
    async storeSecretValues(id, values) {
      await client.write(dataPath(id), { data: values, options: { cas: 0 } });
    },
    async getSecretValues(id) {
      return (await latest(id)).values;
    },
    async updateSecretValues(id, values) {
      const { version } = await latest(id);
      await client.write(dataPath(id), { data: values, options: { cas: version } });
    },
    async deleteSecretValues(id) {
      await latest(id);
      await client.delete(metadataPath(id));
    },
    async close() {},
  };
  return side;
};
