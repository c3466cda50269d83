/**
 * Requests with the server's root token, for what an operator or another tool does beside
 * omnisecret (mounts, policies, metadata to look at), in the Vault tests.
 */
export type VaultAdmin = (
  method: string,
  path: string,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: Vault's JSON answers, read field by field by the tests
) => Promise<{ status: number; body: any }>;

export function vaultAdmin(config: Record<string, unknown>): VaultAdmin {
  return async (method, path, body) => {
    const response = await fetch(`${config.address as string}/v1/${path}`, {
      method,
      headers: { "X-Vault-Token": config.token as string, "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
}
