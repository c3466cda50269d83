/**
 * Vault KV version 2 by hand with node-vault, with the requests the adapter sends: store is a
 * `cas: 0` write and a metadata write; get one read; update a metadata read and a `cas` write;
 * delete a metadata read and a metadata DELETE.
 */
import nodeVault from "node-vault";
import { type BenchSide, NotFound, type RawFactory } from "../../../bench/lib/side.js";

interface Metadata {
  current_version: number;
  versions: Record<string, { deletion_time: string; destroyed: boolean }>;
}

export const createRawVault: RawFactory = async (config, prefix) => {
  const client = nodeVault({
    endpoint: config.address as string,
    token: config.token as string,
    requestOptions: { timeout: 10_000 },
    debug: () => undefined,
    rpDefaults: { strictSSL: true },
  } as nodeVault.VaultOptions);
  const mount = "secret";
  const dataPath = (id: string) => `${mount}/data/${prefix}/${id}`;
  const metadataPath = (id: string) => `${mount}/metadata/${prefix}/${id}`;
  const isNotFound = (error: unknown) => (error as { response?: { statusCode?: number } }).response?.statusCode === 404;

  async function liveMetadata(id: string): Promise<Metadata> {
    let body: { data?: Metadata };
    try {
      body = await client.read(metadataPath(id));
    } catch (error) {
      if (isNotFound(error)) throw new NotFound(id);
      throw error;
    }
    const metadata = body?.data;
    const latest = metadata?.versions?.[String(metadata.current_version)];
    if (!metadata || !latest || latest.destroyed || latest.deletion_time !== "") throw new NotFound(id);
    return metadata;
  }

  const side: BenchSide = {
    async storeSecretValues(id, values) {
      await client.write(dataPath(id), { data: values, options: { cas: 0 } });
      await client.write(metadataPath(id), {
        max_versions: 1,
        custom_metadata: { "managed-by": "omnisecret", "omnisecret-id": id },
      });
    },
    async getSecretValues(id) {
      try {
        const body = await client.read(dataPath(id));
        if (!body?.data?.data) throw new NotFound(id);
        return body.data.data;
      } catch (error) {
        if (isNotFound(error)) throw new NotFound(id);
        throw error;
      }
    },
    async updateSecretValues(id, values) {
      const metadata = await liveMetadata(id);
      await client.write(dataPath(id), { data: values, options: { cas: metadata.current_version } });
    },
    async deleteSecretValues(id) {
      await liveMetadata(id);
      await client.delete(metadataPath(id));
    },
    async close() {},
  };
  return side;
};
