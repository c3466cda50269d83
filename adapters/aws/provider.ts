/** AWS Secrets Manager. The provider's definition; see `src/provider-definition.ts`. */
import { envField } from "../../src/env-fields.js";
import { comparableUrl, defineProvider } from "../../src/provider-definition.js";

export const awsProvider = defineProvider({
  name: "aws",
  envFields: [
    envField("aws", "region", "string", { standardNames: ["AWS_REGION", "AWS_DEFAULT_REGION"] }),
    envField("aws", "endpoint", "string", { standardNames: ["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"] }),
    envField("aws", "allowPlaintextRemote", "boolean"),
    envField("aws", "credentials.accessKeyId", "string", { secret: true }),
    envField("aws", "credentials.secretAccessKey", "string", { secret: true }),
    envField("aws", "credentials.sessionToken", "string", { secret: true }),
    envField("aws", "owner", "string"),
    envField("aws", "verifyOwnership", "boolean"),
    envField("aws", "kmsKeyId", "string"),
    envField("aws", "maxAttempts", "integer"),
    envField("aws", "requestTimeoutMs", "integer"),
    envField("aws", "operationTimeoutMs", "integer"),
    envField("aws", "recreateAttempts", "integer"),
    envField("aws", "listPageSize", "integer"),
    envField("aws", "keepVersions", "integer"),
  ],
  secretFields: ["credentials", "client"],
  sdkPackages: ["@aws-sdk/client-secrets-manager"],
  loadOptionsSchema: async () => (await import("./options.js")).awsOptionsSchema,
  loadAdapter: async () => (await import("./index.js")).createAwsAdapter,
  locationFields: ["region", "endpoint"],
  location: (config) => [config.region, comparableUrl(config.endpoint)],
});
