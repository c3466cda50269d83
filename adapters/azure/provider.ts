/** Azure Key Vault secrets. The provider's definition; see `src/provider-definition.ts`. */
import { envField } from "../../src/env-fields.js";
import { comparableUrl, defineProvider } from "../../src/provider-definition.js";

export const azureProvider = defineProvider({
  name: "azure",
  envFields: [
    envField("azure", "vaultUrl", "string", { standardNames: ["AZURE_KEYVAULT_URL"] }),
    envField("azure", "credential.tenantId", "string"),
    envField("azure", "credential.clientId", "string"),
    envField("azure", "credential.clientSecret", "string", { secret: true }),
    envField("azure", "credential.authorityHost", "string"),
    envField("azure", "caCertFile", "string"),
    envField("azure", "disableChallengeResourceVerification", "boolean"),
    envField("azure", "serviceVersion", "string"),
    envField("azure", "owner", "string"),
    envField("azure", "verifyOwnership", "boolean"),
    envField("azure", "deletePolicy", "string"),
    envField("azure", "keepVersions", "integer"),
    envField("azure", "pruneAction", "string"),
    envField("azure", "maxAttempts", "integer"),
    envField("azure", "requestTimeoutMs", "integer"),
    envField("azure", "operationTimeoutMs", "integer"),
    envField("azure", "maxValueBytes", "integer"),
    envField("azure", "listPageSize", "integer"),
  ],
  secretFields: ["credential", "client"],
  sdkPackages: ["@azure/keyvault-secrets", "@azure/identity"],
  loadOptionsSchema: async () => (await import("./options.js")).azureOptionsSchema,
  loadAdapter: async () => (await import("./index.js")).createAzureAdapter,
  locationFields: ["vaultUrl"],
  location: (config) => [comparableUrl(config.vaultUrl)],
});
