import { z } from "zod";
import {
  cacheSchema,
  ownerSchema,
  prefixSchema,
  refusePlaintextRemote,
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

export const awsOptionsSchema = z
  .strictObject({
    provider: z.literal("aws"),
    prefix: prefixSchema,
    /** The opt-in read cache: `{ ttlMs, maxEntries?, cacheNotFound? }`. @default off */
    cache: cacheSchema,
    /**
     * The AWS region.
     * @default the SDK's (`AWS_REGION`, then the shared config file)
     */
    region: z.string().min(1).optional(),
    /**
     * An endpoint URL in place of AWS's own, such as LocalStack's `http://localhost:4566`.
     * @default the SDK's (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL`, else AWS)
     */
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    /**
     * Allow a plain `http://` endpoint on a host other than loopback (a test server on another
     * machine). Request signatures and values then cross the network unencrypted.
     * @default false
     */
    allowPlaintextRemote: z.boolean().default(false),
    /**
     * Static credentials.
     * @default the SDK's default credential chain (environment, shared files, SSO, instance or task role)
     */
    credentials: z
      .strictObject({
        accessKeyId: z.string().min(1),
        secretAccessKey: z.string().min(1),
        sessionToken: z.string().min(1).optional(),
      })
      .optional(),
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
    kmsKeyId: z.string().min(1).optional(),
    /**
     * Attempts the SDK makes for each request (throttling, 5xx and timed-out requests are retried).
     * @default 3
     */
    maxAttempts: z.number().int().min(1).max(20).default(3),
    /**
     * Milliseconds one request (one attempt) may take, connecting included (the SDK handler's
     * `requestTimeout` and `connectionTimeout`); then the SDK tries again if attempts are left.
     * @default 10000
     */
    requestTimeoutMs: z.number().int().positive().max(600_000).default(10_000),
    /**
     * Milliseconds one operation may take, every request, retry and backoff in it included; then it
     * fails with `E_PROVIDER_UNAVAILABLE`. For `listSecretIds`, each page. Also bounds an injected client.
     * @default 20000
     */
    operationTimeoutMs: z.number().int().positive().max(600_000).default(20_000),
    /**
     * Attempts to re-create a name AWS still holds from a just-deleted secret.
     * @default 8
     */
    recreateAttempts: z.number().int().min(1).max(30).default(8),
    /**
     * Results per ListSecrets page (1-100).
     * @default 100
     */
    listPageSize: z.number().int().min(1).max(100).default(100),
    /**
     * A client you built yourself; `region`, `endpoint`, `credentials`, `maxAttempts` and
     * `requestTimeoutMs` are then ignored (`operationTimeoutMs` still holds).
     */
    client: z
      .custom<AwsSecretsManagerClient>(
        (value) =>
          typeof value === "object" && value !== null && typeof (value as { send?: unknown }).send === "function",
        { message: "must be a SecretsManagerClient" },
      )
      .optional(),
  })
  .superRefine(refusePlaintextRemote("endpoint"));

/** Options of the AWS Secrets Manager provider. */
export type AwsOptions = z.input<typeof awsOptionsSchema>;
export type ResolvedAwsOptions = z.output<typeof awsOptionsSchema>;
