/** Google Cloud Secret Manager. The provider's definition; see `src/provider-definition.ts`. */
import { envField } from "../../src/env-fields.js";
import { comparableHost, defineProvider } from "../../src/provider-definition.js";

export const gcpProvider = defineProvider({
  name: "gcp",
  envFields: [
    envField("gcp", "projectId", "string", { standardNames: ["GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"] }),
    envField("gcp", "credentials", "json", { secret: true }),
    envField("gcp", "credentials.client_email", "string", { secret: true }),
    envField("gcp", "credentials.private_key", "string", { secret: true }),
    envField("gcp", "apiEndpoint", "string"),
    envField("gcp", "port", "integer"),
    envField("gcp", "plaintext", "boolean"),
    envField("gcp", "allowPlaintextRemote", "boolean"),
    envField("gcp", "owner", "string"),
    envField("gcp", "verifyOwnership", "boolean"),
    envField("gcp", "replication", "json"),
    envField("gcp", "keepVersions", "integer"),
    envField("gcp", "pruneAction", "string"),
    envField("gcp", "listPageSize", "integer"),
    envField("gcp", "maxAttempts", "integer"),
    envField("gcp", "requestTimeoutMs", "integer"),
    envField("gcp", "operationTimeoutMs", "integer"),
    envField("gcp", "halfCreatedGraceMs", "integer"),
  ],
  secretFields: ["credentials", "client"],
  // google-gax is loaded from the SDK's own location (a second copy breaks grpc), so it is not named here.
  sdkPackages: ["@google-cloud/secret-manager"],
  loadOptionsSchema: async () => (await import("./options.js")).gcpOptionsSchema,
  loadAdapter: async () => (await import("./index.js")).createGcpAdapter,
  locationFields: ["projectId", "apiEndpoint", "port"],
  location: (config) => [config.projectId, comparableHost(config.apiEndpoint), config.port],
});
