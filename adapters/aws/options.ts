import * as v from "valibot";
import {
  cloudOptionsSchema,
  injectedClientSchema,
  integer,
  plaintextRemoteCheck,
  urlSchema,
} from "../../src/config-schema.js";

/**
 * A `SecretsManagerClient` of `@aws-sdk/client-secrets-manager`, as much of it as the type needs:
 * written out so that omnisecret's types compile without the SDK installed.
 */
export interface AwsSecretsManagerClient {
  send(command: unknown, options?: unknown): Promise<unknown>;
  destroy(): void;
}

/** The options every cloud adapter shares that AWS takes; 3 attempts is the AWS SDK's standard retry mode. */
const SHARED_OPTIONS = { maxAttempts: 3, allowPlaintextRemote: true } as const;

export const awsOptionsSchema = v.pipe(
  cloudOptionsSchema(SHARED_OPTIONS, {
    provider: v.literal("aws"),
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
     * The KMS key that encrypts new secrets.
     * @default the account's `aws/secretsmanager` key
     */
    kmsKeyId: v.optional(v.pipe(v.string(), v.minLength(1))),
    /**
     * Attempts to re-create a name AWS still holds from a just-deleted secret.
     * @default 8
     */
    recreateAttempts: v.optional(integer(1, 30), 8),
    /**
     * Versions readable through omnisecret, the current one included: 1 (an update leaves no
     * earlier values readable, as before versions) or 2 (also the one made current just before,
     * AWS's `AWSPREVIOUS`). At most 2: AWS keeps only versions with a staging label for sure, and
     * it moves its own labels (AWSCURRENT, AWSPREVIOUS) on every update; a version without a label
     * is deprecated and removed by AWS when it chooses. AWS has no call to destroy a version, so
     * with 1 the previous version still exists in AWS (see docs/providers/aws.md).
     * @default 1
     */
    keepVersions: v.optional(
      v.pipe(
        v.number(),
        v.safeInteger(),
        v.minValue(1),
        v.maxValue(
          2,
          "must be 1 or 2: AWS keeps only the current (AWSCURRENT) and the previous (AWSPREVIOUS) version for sure, and deprecates and removes older ones itself",
        ),
      ),
      1,
    ),
    /**
     * Results per ListSecrets page (1-100).
     * @default 100
     */
    listPageSize: v.optional(integer(1, 100), 100),
    /**
     * A client you built yourself; `region`, `endpoint`, `credentials`, `maxAttempts` and
     * `requestTimeoutMs` are then ignored (`operationTimeoutMs` still holds).
     */
    client: injectedClientSchema<AwsSecretsManagerClient>("send", "a SecretsManagerClient"),
  }),
  plaintextRemoteCheck("endpoint"),
);

/** Options of the AWS Secrets Manager provider. */
export type AwsOptions = v.InferInput<typeof awsOptionsSchema>;
export type ResolvedAwsOptions = v.InferOutput<typeof awsOptionsSchema>;
