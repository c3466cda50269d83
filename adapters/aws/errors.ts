/**
 * How AWS Secrets Manager's errors become omnisecret's, in one place. Errors are matched on
 * their `name` (the exception type), never on the HTTP status: moto answers
 * ResourceNotFoundException with 404 where AWS answers 400.
 */
import {
  isNetworkErrorCode,
  PermissionDeniedError,
  ProviderUnavailableError,
  SecretAlreadyExistsError,
  SecretNotFoundError,
  type SecretStoreError,
} from "../../src/kit/index.js";

export const PROVIDER = "aws";

interface AwsLikeError {
  name?: string;
  message?: string;
  code?: string;
  $fault?: "client" | "server";
  $metadata?: { httpStatusCode?: number };
}

const PERMISSION_ERRORS = new Set([
  "AccessDeniedException",
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "ExpiredTokenException",
  "InvalidClientTokenId",
  "MissingAuthenticationToken",
  "CredentialsProviderError",
  // The secret's KMS key refused to decrypt it: a permission on the key, not on the secret.
  "DecryptionFailure",
  "EncryptionFailure",
]);

const UNAVAILABLE_ERRORS = new Set([
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "LimitExceededException",
  "InternalServiceError",
  "InternalFailure",
  "ServiceUnavailable",
  "TimeoutError",
  "RequestTimeout",
]);

/**
 * A secret deleted with a recovery window: reads say "marked for deletion" (AWS) or "marked
 * deleted" (moto); a create of its name says "scheduled for deletion".
 */
export function isPendingDeletion(error: unknown): boolean {
  const { name, message } = (error ?? {}) as AwsLikeError;
  return name === "InvalidRequestException" && /marked (for )?delet|scheduled for deletion/i.test(message ?? "");
}

/** Maps an AWS error to a typed omnisecret error, or returns undefined for one with no typed counterpart. */
export function mapAwsError(error: unknown, secretId: string | undefined): SecretStoreError | undefined {
  const { name = "", code, $fault, $metadata } = (error ?? {}) as AwsLikeError;
  const options = { provider: PROVIDER, cause: error };
  if (name === "ResourceNotFoundException" || isPendingDeletion(error)) {
    return secretId === undefined ? undefined : new SecretNotFoundError(secretId, options);
  }
  if (name === "ResourceExistsException") {
    return secretId === undefined ? undefined : new SecretAlreadyExistsError(secretId, options);
  }
  if (PERMISSION_ERRORS.has(name) || $metadata?.httpStatusCode === 403) {
    return new PermissionDeniedError(secretId, { ...options, message: `AWS denied access (${name || "403"})` });
  }
  const status = $metadata?.httpStatusCode ?? 0;
  if (UNAVAILABLE_ERRORS.has(name) || $fault === "server" || status >= 500 || isNetworkErrorCode(code ?? name)) {
    return new ProviderUnavailableError(secretId, {
      ...options,
      message: `AWS Secrets Manager was unavailable after retries (${name || code || status})`,
    });
  }
  return undefined;
}
