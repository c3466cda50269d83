/**
 * How Secret Manager's errors become omnisecret's, in one place. The SDK (google-gax over
 * grpc-js) rejects with an Error carrying the numeric gRPC status `code` and the server's
 * `details`; errors are matched on that code only. This module loads no SDK.
 */
import {
  ConfigError,
  errorCodeOf,
  PermissionDeniedError,
  ProviderUnavailableError,
  SecretAlreadyExistsError,
  SecretIntegrityError,
  SecretNotFoundError,
  type SecretStoreError,
} from "../../src/kit/index.js";

export const PROVIDER = "gcp";

/** The gRPC status codes (google.rpc.Code) this adapter tells apart. */
export const Status = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const STATUS_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(Status).map(([name, code]) => [code, name]),
);

/** The gRPC status code of an SDK error, or undefined for an error that did not come from a call. */
export function grpcCode(error: unknown): number | undefined {
  const code = errorCodeOf(error);
  return typeof code === "number" ? code : undefined;
}

/** `NOT_FOUND (5)`, for messages; never the server's text, which may name resources. */
export function describeCode(error: unknown): string {
  const code = grpcCode(error);
  if (code === undefined) return error instanceof Error ? error.name : typeof error;
  return `${STATUS_NAMES[code] ?? "code"} (${code})`;
}

/**
 * Missing or unreadable credentials, as google-auth-library reports them before any request is
 * sent ("Could not load the default credentials", a key without `client_email`, ...).
 */
function isCredentialsProblem(error: unknown): boolean {
  return (
    grpcCode(error) === undefined &&
    error instanceof Error &&
    /could not load the default credentials|client_email|private_key|no key or keyFile set|invalid_grant/i.test(
      error.message,
    )
  );
}

/**
 * Maps a Secret Manager error to a typed omnisecret error, or returns undefined for one with no
 * typed counterpart (INVALID_ARGUMENT, UNIMPLEMENTED, ...), which the facade wraps as E_UNKNOWN.
 *
 * FAILED_PRECONDITION is what Secret Manager answers for reading a disabled or destroyed
 * version (and for a delete whose etag no longer matches, which the adapter handles before
 * mapping): to a caller the secret has no readable value, so it is not found.
 */
export function mapGcpError(error: unknown, secretId: string | undefined): SecretStoreError | undefined {
  const options = { provider: PROVIDER, cause: error };
  if (isCredentialsProblem(error)) {
    return new ConfigError(
      "no usable Google credentials: set `credentials`, GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth application-default login`",
      { ...options, field: "credentials" },
    );
  }
  switch (grpcCode(error)) {
    case Status.NOT_FOUND:
    case Status.FAILED_PRECONDITION:
      return secretId === undefined ? undefined : new SecretNotFoundError(secretId, options);
    case Status.ALREADY_EXISTS:
      return secretId === undefined ? undefined : new SecretAlreadyExistsError(secretId, options);
    case Status.PERMISSION_DENIED:
    case Status.UNAUTHENTICATED:
      return new PermissionDeniedError(secretId, {
        ...options,
        message: `Google Cloud denied access (${describeCode(error)})${secretId === undefined ? "" : ` to secret ${secretId}`}`,
      });
    case Status.RESOURCE_EXHAUSTED:
    case Status.UNAVAILABLE:
    case Status.DEADLINE_EXCEEDED:
    case Status.ABORTED:
    case Status.INTERNAL:
      return new ProviderUnavailableError(secretId, {
        ...options,
        message: `Google Cloud Secret Manager was unavailable after retries (${describeCode(error)})`,
      });
    case Status.DATA_LOSS:
      return new SecretIntegrityError(secretId, `Secret Manager reported ${describeCode(error)}`, options);
    default:
      return undefined;
  }
}

/** Errors worth another attempt: RESOURCE_EXHAUSTED always (the request was refused, not run), the rest only for requests that may safely run twice. */
export function isRetryable(error: unknown, idempotent: boolean): boolean {
  const code = grpcCode(error);
  if (code === Status.RESOURCE_EXHAUSTED) return true;
  return idempotent && (code === Status.UNAVAILABLE || code === Status.DEADLINE_EXCEEDED);
}
