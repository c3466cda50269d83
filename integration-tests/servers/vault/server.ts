import type { ServerDefinition } from "../../harness/definitions.js";
import { assertPortFree, runInstallScript } from "../../harness/process.js";

/** The dev server's root token: a dev server on loopback, thrown away when the tests end. */
const ROOT_TOKEN = "root";

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
      config: { provider: "vault", address, token: ROOT_TOKEN },
    };
  },
};
