/** HashiCorp Vault KV version 2, and OpenBao. The provider's definition; see `src/provider-definition.ts`. */
import { envField } from "../../src/env-fields.js";
import { comparableUrl, defineProvider } from "../../src/provider-definition.js";

export const vaultProvider = defineProvider({
  name: "vault",
  envFields: [
    envField("vault", "address", "string", { standardNames: ["VAULT_ADDR"] }),
    envField("vault", "allowPlaintextRemote", "boolean"),
    envField("vault", "token", "string", { standardNames: ["VAULT_TOKEN"], secret: true }),
    envField("vault", "appRole.roleId", "string", { secret: true }),
    envField("vault", "appRole.secretId", "string", { secret: true }),
    envField("vault", "appRole.mount", "string"),
    envField("vault", "namespace", "string", { standardNames: ["VAULT_NAMESPACE"] }),
    envField("vault", "owner", "string"),
    envField("vault", "verifyOwnership", "boolean"),
    envField("vault", "mount", "string"),
    envField("vault", "keepVersions", "integer"),
    envField("vault", "maxValueBytes", "integer"),
    envField("vault", "listPageSize", "integer"),
    envField("vault", "caCertFile", "string", { standardNames: ["VAULT_CACERT"] }),
    envField("vault", "maxAttempts", "integer"),
    envField("vault", "requestTimeoutMs", "integer"),
    envField("vault", "operationTimeoutMs", "integer"),
  ],
  secretFields: ["token", "appRole", "client"],
  sdkPackages: ["node-vault"],
  loadOptionsSchema: async () => (await import("./options.js")).vaultOptionsSchema,
  loadAdapter: async () => (await import("./index.js")).createVaultAdapter,
  locationFields: ["address", "namespace", "mount"],
  location: (config) => [comparableUrl(config.address), config.namespace, config.mount],
});
