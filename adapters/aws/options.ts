import * as v from "valibot";
import {
  allowPlaintextRemoteSchema,
  cacheSchema,
  integer,
  isRefusedPlaintext,
  maxAttemptsSchema,
  operationTimeoutMsSchema,
  ownerSchema,
  PLAINTEXT_REMOTE_MESSAGE,
  prefixSchema,
  requestTimeoutMsSchema,
  urlSchema,
  verifyOwnershipSchema,
} from "../../src/config-schema.js";

/**
 * A `SecretsManagerClient` of `@aws-sdk/client-secrets-manager`, as much of it as the type needs:
 * written out so that omnisecret's types compile without the SDK installed.
 */
export interface AwsSecretsManagerClient {
  send(command: unknown, options?: unknown): Promise<unknown>;
  destroy(): void;
}

export const awsOptionsSchema = v.pipe(
  v.strictObject({
    provider: v.literal("aws"),
    prefix: prefixSchema,
    /** The opt-in read cache: `{ ttlMs, maxEntries?, cacheNotFound? }`. @default off */
    cache: cacheSchema,
    /**
     * The AWS region.
     * @default the SDK's (`AWS_REGION`, then the shared config file)
     */
    region: v.optional(v.pipe(v.string(), v.minLength(1))),
    /**
     * An endpoint URL in place of AWS's own, such as LocalStack's `http://localhost:4566`.
     * @default the SDK's (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL`, else AWS)
     */
    endpoint: v.optional(urlSchema(["http", "https"])),
    /**
     * Allow a plain `http://` endpoint on a host other than loopback (a test server on another
     * machine). Request signatures and values then cross the network unencrypted.
     * @default false
     */
    allowPlaintextRemote: allowPlaintextRemoteSchema,
    /**
     * Static credentials.
     * @default the SDK's default credential chain (environment, shared files, SSO, instance or task role)
     */
    credentials: v.optional(
      v.strictObject({
        accessKeyId: v.pipe(v.string(), v.minLength(1)),
        secretAccessKey: v.pipe(v.string(), v.minLength(1)),
        sessionToken: v.optional(v.pipe(v.string(), v.minLength(1))),
      }),
    ),
    /**
     * Which installation the secrets belong to, as ZenML's server id does. A secret is named
     * `<prefix>/<owner>/<uuid>`, so the name alone says whose it is, and is also tagged
     * `omnisecret:owner`. 1-40 lowercase letters, digits or dashes.
     * @default "default"
     */
    owner: ownerSchema,
    /**
     * Check the `omnisecret:id` and `omnisecret:owner` tags (one DescribeSecret) before every get,
     * update and delete: a secret at an omnisecret name whose tags do not match is then not found
     * and never touched. Without it, whatever sits at this owner's name is this owner's.
     * @default false
     */
    verifyOwnership: verifyOwnershipSchema,
    /**
     * The KMS key that encrypts new secrets.
     * @default the account's `aws/secretsmanager` key
     */
    kmsKeyId: v.optional(v.pipe(v.string(), v.minLength(1))),
    /**
     * Attempts the SDK makes for each request (throttling, 5xx and timed-out requests are retried).
     * @default 3
     */
    maxAttempts: maxAttemptsSchema(3),
    /**
     * Milliseconds one request (one attempt) may take, connecting included (the SDK handler's
     * `requestTimeout` and `connectionTimeout`); then the SDK tries again if attempts are left.
     * @default 10000
     */
    requestTimeoutMs: requestTimeoutMsSchema,
    /**
     * Milliseconds one operation may take, every request, retry and backoff in it included; then it
     * fails with `E_PROVIDER_UNAVAILABLE`. For `listSecretIds`, each page. Also bounds an injected client.
     * @default 20000
     */
    operationTimeoutMs: operationTimeoutMsSchema,
    /**
     * Attempts to re-create a name AWS still holds from a just-deleted secret.
     * @default 8
     */
    recreateAttempts: v.optional(integer(1, 30), 8),
    /**
     * Results per ListSecrets page (1-100).
     * @default 100
     */
    listPageSize: v.optional(integer(1, 100), 100),
    /**
     * A client you built yourself; `region`, `endpoint`, `credentials`, `maxAttempts` and
     * `requestTimeoutMs` are then ignored (`operationTimeoutMs` still holds).
     */
    client: v.optional(
      v.custom<AwsSecretsManagerClient>(
        (value) =>
          typeof value === "object" && value !== null && typeof (value as { send?: unknown }).send === "function",
        "must be a SecretsManagerClient",
      ),
    ),
  }),
  // Checked whenever these two fields are valid, even while others are not, so all is said at once.
  v.forward(
    v.partialCheck(
      [["endpoint"], ["allowPlaintextRemote"]],
      (options) => !isRefusedPlaintext(options.endpoint, options.allowPlaintextRemote),
      PLAINTEXT_REMOTE_MESSAGE,
    ),
    ["endpoint"],
  ),
);

/** Options of the AWS Secrets Manager provider. */
export type AwsOptions = v.InferInput<typeof awsOptionsSchema>;
export type ResolvedAwsOptions = v.InferOutput<typeof awsOptionsSchema>;
