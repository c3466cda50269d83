/**
 * Every failure omnisecret reports is a `SecretStoreError` with a stable `code`.
 *
 * Messages name the secret id and the provider, never a secret value: callers log
 * these errors, and a value in a log line is a leaked secret.
 */

/** Every code a `SecretStoreError` can carry. */
export const SECRET_STORE_ERROR_CODES = [
  "E_SECRET_NOT_FOUND",
  "E_SECRET_EXISTS",
  "E_SECRET_CHANGED",
  "E_INVALID_SECRET_ID",
  "E_INVALID_SECRET_VALUES",
  "E_SECRET_TOO_LARGE",
  "E_SECRET_INTEGRITY",
  "E_INVALID_VERSION",
  "E_INVALID_REFERENCE",
  "E_CONFIG",
  "E_PERMISSION_DENIED",
  "E_PROVIDER_UNAVAILABLE",
  "E_NOT_SUPPORTED",
  "E_UNKNOWN",
] as const;

export type SecretStoreErrorCode = (typeof SECRET_STORE_ERROR_CODES)[number];

export interface SecretStoreErrorOptions {
  /** The provider the failure came from (`aws`, `local`, ...). The facade fills it in when an adapter leaves it out. */
  provider?: string | undefined;
  /** The native error, kept for debugging. */
  cause?: unknown;
}

// A registry-wide symbol, so errors thrown by a second copy of omnisecret (a custom adapter
// that bundles its own) are still recognised.
const SECRET_STORE_ERROR = Symbol.for("omnisecret.SecretStoreError");

export class SecretStoreError extends Error {
  override name = "SecretStoreError";
  readonly [SECRET_STORE_ERROR] = true;
  readonly code: SecretStoreErrorCode;
  provider: string | undefined;
  readonly secretId: string | undefined;

  constructor(
    code: SecretStoreErrorCode,
    message: string,
    options: SecretStoreErrorOptions & { secretId?: string | undefined } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.provider = options.provider;
    this.secretId = options.secretId;
  }
}

function describeSecret(secretId: string | undefined): string {
  return secretId === undefined ? "secret" : `secret ${secretId}`;
}

export class SecretNotFoundError extends SecretStoreError {
  override name = "SecretNotFoundError";
  /** `message`: what is missing, when it is not the secret itself (a version pruned or gone, say). */
  constructor(secretId: string, options: SecretStoreErrorOptions & { message?: string } = {}) {
    super("E_SECRET_NOT_FOUND", options.message ?? `${describeSecret(secretId)} was not found`, {
      ...options,
      secretId,
    });
  }
}

export class SecretAlreadyExistsError extends SecretStoreError {
  override name = "SecretAlreadyExistsError";
  constructor(secretId: string, options: SecretStoreErrorOptions = {}) {
    super("E_SECRET_EXISTS", `${describeSecret(secretId)} already exists`, { ...options, secretId });
  }
}

/**
 * A conditional write found the secret holding other values than the caller expected (another
 * writer came first): nothing was changed. `copySecrets` meets it when a source is updated while
 * it is being moved, and leaves that source in place.
 */
export class SecretChangedError extends SecretStoreError {
  override name = "SecretChangedError";
  constructor(secretId: string, options: SecretStoreErrorOptions = {}) {
    super("E_SECRET_CHANGED", `${describeSecret(secretId)} holds other values than expected; it was left as it is`, {
      ...options,
      secretId,
    });
  }
}

export class InvalidSecretIdError extends SecretStoreError {
  override name = "InvalidSecretIdError";
  /**
   * The rejected input is described by its type and length only: a caller who passes a
   * secret value where an id belongs must not see that value echoed into a log.
   */
  constructor(rejected: unknown, options: SecretStoreErrorOptions = {}) {
    super(
      "E_INVALID_SECRET_ID",
      `secret id must be a UUID such as 0b6e0cfa-6f8c-4f4a-9f1e-8b9d2b1c2a3d (got ${describeInput(rejected)})`,
      options,
    );
  }
}

export class InvalidSecretValuesError extends SecretStoreError {
  override name = "InvalidSecretValuesError";
  constructor(secretId: string | undefined, reason: string, options: SecretStoreErrorOptions = {}) {
    super("E_INVALID_SECRET_VALUES", `invalid values for ${describeSecret(secretId)}: ${reason}`, {
      ...options,
      secretId,
    });
  }
}

export class SecretTooLargeError extends SecretStoreError {
  override name = "SecretTooLargeError";
  readonly sizeBytes: number;
  readonly maxBytes: number;
  constructor(
    secretId: string | undefined,
    sizeBytes: number,
    maxBytes: number,
    options: SecretStoreErrorOptions = {},
  ) {
    super(
      "E_SECRET_TOO_LARGE",
      `values for ${describeSecret(secretId)} are ${sizeBytes} bytes as JSON; the limit${options.provider ? ` of provider "${options.provider}"` : ""} is ${maxBytes} bytes`,
      { ...options, secretId },
    );
    this.sizeBytes = sizeBytes;
    this.maxBytes = maxBytes;
  }
}

/** Stored data failed an integrity check (a wrong key, a checksum mismatch): it is never returned as values. */
export class SecretIntegrityError extends SecretStoreError {
  override name = "SecretIntegrityError";
  constructor(secretId: string | undefined, reason: string, options: SecretStoreErrorOptions = {}) {
    super("E_SECRET_INTEGRITY", `${describeSecret(secretId)} failed an integrity check: ${reason}`, {
      ...options,
      secretId,
    });
  }
}

/**
 * A version asked of a get that cannot be one of this provider's: not "latest", "previous" or a
 * token of its shape (empty, too long, another provider's). Refused before any request. The
 * token itself is not echoed: it may have been pasted from anywhere.
 */
export class InvalidVersionError extends SecretStoreError {
  override name = "InvalidVersionError";
  /** Always `"version"`: the option at fault. */
  readonly field = "version";
  constructor(secretId: string | undefined, reason: string, options: SecretStoreErrorOptions = {}) {
    super("E_INVALID_VERSION", `version of ${describeSecret(secretId)} ${reason}`, { ...options, secretId });
  }
}

/**
 * A malformed `omnisecret://<uuid>/<key>` reference (src/references.ts): not a UUID, no key, bad
 * percent-encoding. Refused before any request. The text itself is not echoed (a value pasted in
 * the wrong place must not reach a log); the caller names where it was (a variable, a line).
 */
export class InvalidReferenceError extends SecretStoreError {
  override name = "InvalidReferenceError";
  constructor(reason: string, options: SecretStoreErrorOptions = {}) {
    super("E_INVALID_REFERENCE", `invalid reference: ${reason}`, options);
  }
}

export class ConfigError extends SecretStoreError {
  override name = "ConfigError";
  /** The configuration field at fault, as a dotted path, when there is one. */
  readonly field: string | undefined;
  constructor(message: string, options: SecretStoreErrorOptions & { field?: string | undefined } = {}) {
    super("E_CONFIG", message, options);
    this.field = options.field;
  }
}

export class PermissionDeniedError extends SecretStoreError {
  override name = "PermissionDeniedError";
  constructor(secretId: string | undefined, options: SecretStoreErrorOptions & { message?: string } = {}) {
    super("E_PERMISSION_DENIED", options.message ?? `permission denied for ${describeSecret(secretId)}`, {
      ...options,
      secretId,
    });
  }
}

export class ProviderUnavailableError extends SecretStoreError {
  override name = "ProviderUnavailableError";
  constructor(secretId: string | undefined, options: SecretStoreErrorOptions & { message?: string } = {}) {
    super(
      "E_PROVIDER_UNAVAILABLE",
      options.message ?? `the provider was unavailable while handling ${describeSecret(secretId)}`,
      { ...options, secretId },
    );
  }
}

export class OperationNotSupportedError extends SecretStoreError {
  override name = "OperationNotSupportedError";
  constructor(operation: string, options: SecretStoreErrorOptions = {}) {
    super("E_NOT_SUPPORTED", `this adapter does not support ${operation}`, options);
  }
}

export function isSecretStoreError(error: unknown): error is SecretStoreError {
  return (
    error instanceof SecretStoreError ||
    (typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[SECRET_STORE_ERROR] === true)
  );
}

/**
 * The `code` of anything thrown: a typed error's `E_...` code, a Node.js system error's `ENOENT`,
 * a gRPC status number; undefined when there is none (or nothing was thrown but `undefined`).
 */
export function errorCodeOf(error: unknown): unknown {
  return typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
}

/** A description of an input that reveals its shape, never its content. */
export function describeInput(input: unknown): string {
  if (input === null) return "null";
  if (Array.isArray(input)) return `an array of ${input.length} items`;
  if (typeof input === "string") return `a string of ${input.length} characters`;
  return typeof input === "object" ? "an object" : `a ${typeof input}`;
}
