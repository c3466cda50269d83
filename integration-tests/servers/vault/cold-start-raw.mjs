// The raw side of the bench's cold start on Vault's KV v2: node-vault, one read of the data path;
// run by bench/cold-start/raw.mjs in a fresh process, so it imports nothing but what that read
// needs.
export async function readSecret({ config, prefix, id, owner }) {
  const { default: nodeVault } = await import("node-vault");
  const client = nodeVault({
    endpoint: config.address,
    token: config.token,
    requestOptions: { timeout: 10_000 },
    debug: () => undefined,
    rpDefaults: { strictSSL: true },
  });
  const body = await client.read(`${config.mount ?? "secret"}/data/${prefix}/${owner}/${id}`);
  return body.data.data;
}
