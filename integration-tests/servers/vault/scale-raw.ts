/**
 * The scale workload's support on Vault's KV v2 (see bench/lib/scale-raw.ts for what each part
 * does). Its LIST shows every key under the owner's folder, the tombstones of deleted secrets too,
 * so L counts them; the raw side deletes the metadata, so its plain LIST shows its live ids alone.
 * `timeListRequests` sends the paged LIST of the detailed metadata omnisecret's list sends, and
 * `dropLeftovers` removes the tombstones omnisecret's deletes leave, with the raw side's DELETE of
 * the metadata.
 */
import nodeVault from "node-vault";
import type { ScaleRawFactory } from "../../../bench/lib/scale-raw.js";
import { secretNamePattern } from "../../../src/validation.js";

export const createVaultScaleRaw: ScaleRawFactory = async ({ config, rawPrefix, owner }) => {
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
};
