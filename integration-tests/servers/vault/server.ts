import { setTimeout as sleep } from "node:timers/promises";
import type { ServerDefinition } from "../../harness/definitions.js";
import { assertPortFree, runInstallScript } from "../../harness/process.js";

/** The dev server's root token: a dev server on loopback, thrown away when the tests end. */
const ROOT_TOKEN = "root";

/**
 * The one-time setup the Vault docs page recommends, `bao write secret/config max_versions=1`:
 * with the mount keeping the one version omnisecret's default `keepVersions` asks for, a store
 * needs no metadata write of its own (see adapters/vault/index.ts). The tests of the other case
 * (a mount that does not keep `keepVersions`) enable mounts of their own, or set keepVersions 3.
 * A KV v2 mount answers 5xx/400 while it finishes its setup in the background, hence the retries.
 */
async function keepOneVersionOnTheDefaultMount(address: string): Promise<void> {
  let last = "";
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const response = await fetch(`${address}/v1/secret/config`, {
      method: "POST",
      headers: { "X-Vault-Token": ROOT_TOKEN, "Content-Type": "application/json" },
      body: JSON.stringify({ max_versions: 1 }),
    });
    if (response.ok) return;
    last = `${response.status} ${await response.text()}`;
    await sleep(100);
  }
  throw new Error(`could not set max_versions=1 on the dev server's secret/ mount: ${last}`);
}

export const vaultServer: ServerDefinition = {
  provider: "vault",
  description: "an OpenBao dev server (the Vault API), built from the Go module proxy",
  external(env) {
    const address = env.OMNISECRET_TEST_VAULT_ADDR;
    if (!address) return undefined;
    return { provider: "vault", address, token: env.OMNISECRET_TEST_VAULT_TOKEN ?? ROOT_TOKEN };
  },
  install: (env) => runInstallScript("vault/install.sh", env),
  async launch(executable, env) {
    const port = Number(env.OMNISECRET_TEST_VAULT_PORT ?? 8200);
    await assertPortFree(port, "vault", "OMNISECRET_TEST_VAULT_PORT");
    const address = `http://127.0.0.1:${port}`;
    return {
      command: executable,
      args: [
        "server",
        "-dev",
        `-dev-root-token-id=${ROOT_TOKEN}`,
        `-dev-listen-address=127.0.0.1:${port}`,
        // Leave the user's token helper file (~/.vault-token) alone.
        "-dev-no-store-token",
      ],
      isReady: async () => (await fetch(`${address}/v1/sys/health`)).status === 200,
      prepare: () => keepOneVersionOnTheDefaultMount(address),
      config: { provider: "vault", address, token: ROOT_TOKEN },
    };
  },
};
