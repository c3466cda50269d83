/**
 * The raw side of bench/diff.ts for Vault KV v2, with node-vault: one LIST of the prefix's
 * metadata, then one read of each data path (KV v2 has no batch read), `concurrency` at once.
 */
import nodeVault from "node-vault";

export async function readAllVault(
  config: Record<string, unknown>,
  prefix: string,
  concurrency: number,
): Promise<Map<string, Record<string, string>>> {
  const client = nodeVault({
    endpoint: config.address as string,
    token: config.token as string,
    debug: () => undefined,
    rpDefaults: { strictSSL: true },
  } as nodeVault.VaultOptions);
  const mount = (config.mount as string | undefined) ?? "secret";
  const owner = (config.owner as string | undefined) ?? "default";
  const base = `${prefix}/${owner}/`;
  const listed = (await client.list(`${mount}/metadata/${base}`)) as { data?: { keys?: string[] } };
  const ids = (listed.data?.keys ?? []).filter((key) => !key.endsWith("/"));
  const result = new Map<string, Record<string, string>>();
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++] as string;
      const body = (await client.read(`${mount}/data/${base}${id}`)) as { data?: { data?: Record<string, string> } };
      if (body.data?.data) result.set(id, body.data.data);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return result;
}

/** Deletes what the bench stored under `prefix` (every version), `concurrency` at once. */
export async function deleteAllVault(
  config: Record<string, unknown>,
  prefix: string,
  concurrency: number,
): Promise<void> {
  const client = nodeVault({
    endpoint: config.address as string,
    token: config.token as string,
    debug: () => undefined,
  } as nodeVault.VaultOptions);
  const mount = (config.mount as string | undefined) ?? "secret";
  const owner = (config.owner as string | undefined) ?? "default";
  const base = `${prefix}/${owner}/`;
  const listed = (await client.list(`${mount}/metadata/${base}`).catch(() => ({}))) as { data?: { keys?: string[] } };
  const ids = listed.data?.keys ?? [];
  let next = 0;
  const worker = async () => {
    while (next < ids.length) await client.delete(`${mount}/metadata/${base}${ids[next++] as string}`);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
