/**
 * How Key Vault's answers become omnisecret's errors, in one place: by HTTP status first and
 * Key Vault's error code second, because servers differ in codes (Lowkey Vault answers with Java
 * class names where Azure says `SecretNotFound`).
 *
 * The SDK's errors are never kept as causes: a `RestError` carries the request (`request.body` is
 * the secret's value for a set) and identity errors can carry the token request's form (the
 * client secret). Causes are rebuilt as `KeyVaultRequestError`, which holds the status, Key
 * Vault's codes, a network error code and the service's message only.
 */
import {
  ConfigError,
  isTlsTrustErrorCode,
  PermissionDeniedError,
  ProviderUnavailableError,
  SecretAlreadyExistsError,
  SecretNotFoundError,
  type SecretStoreError,
} from "../../src/kit/index.js";

export const PROVIDER = "azure";

/** Connection failures that pass with time (the SDK has already retried those it retries). */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "ECONNABORTED",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "REQUEST_SEND_ERROR",
  "UND_ERR_SOCKET",
]);

/** What failed: a Key Vault request, the sign-in, or the call's own time limit. */
export type FailureKind = "request" | "authentication" | "timeout" | "challenge";

/** A failed Key Vault call, described without its request. */
export class KeyVaultRequestError extends Error {
  override name = "KeyVaultRequestError";
  readonly kind: FailureKind;
  /** The HTTP status, when the server answered. */
  readonly statusCode: number | undefined;
  /** Key Vault's `error.code` (`SecretNotFound`, `Conflict`), or a network error code. */
  readonly code: string | undefined;
  /** Key Vault's `error.innererror.code` (`ObjectIsDeletedButRecoverable`, `SecretDisabled`). */
  readonly innerCode: string | undefined;

  constructor(
    kind: FailureKind,
    message: string,
    details: { statusCode?: number | undefined; code?: string | undefined; innerCode?: string | undefined } = {},
  ) {
    super(message);
    this.kind = kind;
    this.statusCode = details.statusCode;
    this.code = details.code;
    this.innerCode = details.innerCode;
  }
}

/** Messages are cut to this length: they are for people, and a long one may quote a request. */
const MAX_MESSAGE_LENGTH = 300;

function shorten(text: string, redact: (text: string) => string): string {
  const clean = redact(text).replace(/\s+/g, " ").trim();
  return clean.length > MAX_MESSAGE_LENGTH ? `${clean.slice(0, MAX_MESSAGE_LENGTH)}…` : clean;
}

function stringField(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

/**
 * Rebuilds whatever the SDK or `@azure/identity` threw as a `KeyVaultRequestError` (see above
 * for why). `redact` cuts values out of service messages, as a second line of defence.
 */
export function toKeyVaultRequestError(
  error: unknown,
  redact: (text: string) => string = (text) => text,
): KeyVaultRequestError {
  if (error instanceof KeyVaultRequestError) return error;
  const candidate = (error ?? {}) as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
    statusCode?: unknown;
    // The SDK deserialises Key Vault's `innererror` as `innerError`; a raw body keeps the wire name.
    details?: {
      error?: { code?: unknown; message?: unknown; innerError?: { code?: unknown }; innererror?: { code?: unknown } };
    };
  };
  const name = stringField(candidate.name) ?? "Error";
  const rawMessage = stringField(candidate.message) ?? "";
  const statusCode = typeof candidate.statusCode === "number" ? candidate.statusCode : undefined;

  if (name === "AbortError") return new KeyVaultRequestError("timeout", "the call was abandoned at its time limit");
  if (/challenge resource .* does not match/i.test(rawMessage)) {
    return new KeyVaultRequestError("challenge", shorten(rawMessage, redact));
  }
  if (
    name === "AuthenticationError" ||
    name === "CredentialUnavailableError" ||
    name === "AggregateAuthenticationError" ||
    name === "AuthenticationRequiredError"
  ) {
    return new KeyVaultRequestError("authentication", `${name}: ${shorten(rawMessage, redact)}`, { statusCode });
  }
  const body = candidate.details?.error;
  const code = stringField(body?.code) ?? stringField(candidate.code);
  const innerCode = stringField(body?.innerError?.code) ?? stringField(body?.innererror?.code);
  const serviceMessage = stringField(body?.message) ?? rawMessage;
  let prefix: string;
  if (statusCode !== undefined) {
    prefix = `Key Vault answered ${statusCode}${code ? ` ${code}` : ""}${innerCode ? `/${innerCode}` : ""}`;
  } else if (name === "RestError" || NETWORK_CODES.has(code ?? "") || isTlsTrustErrorCode(code)) {
    prefix = `Key Vault could not be reached${code ? ` (${code})` : ""}`;
  } else {
    prefix = name;
  }
  return new KeyVaultRequestError(
    "request",
    serviceMessage ? `${prefix}: ${shorten(serviceMessage, redact)}` : prefix,
    { statusCode, code, innerCode },
  );
}

/** A 429, 408 or 5xx answer, an unanswered request, or the call's time limit: states that pass with time. */
export function isUnavailable(error: KeyVaultRequestError): boolean {
  if (error.kind === "timeout") return true;
  if (error.kind !== "request") return false;
  const status = error.statusCode;
  if (status === undefined) return NETWORK_CODES.has(error.code ?? "");
  return status === 429 || status === 408 || status >= 500;
}

/** A get of a disabled version: Azure answers 403 `Forbidden`/`SecretDisabled` (Lowkey Vault 404). */
export function isSecretDisabled(error: KeyVaultRequestError): boolean {
  return (
    error.statusCode === 403 &&
    (error.innerCode === "SecretDisabled" || error.code === "SecretDisabled" || /disabled/i.test(error.message))
  );
}

/**
 * Maps a failed call to a typed error, or returns undefined for one with no typed counterpart.
 * A 409 is `E_SECRET_EXISTS` for a store; for anything else it means the secret is being
 * deleted, so it is not found.
 */
export function mapKeyVaultError(
  error: KeyVaultRequestError,
  secretId: string | undefined,
  operation?: "store",
): SecretStoreError | undefined {
  const options = { provider: PROVIDER, cause: error };
  if (error.kind === "challenge") {
    return new ConfigError(
      "the vault's authentication challenge names another domain: for an emulator or test server set disableChallengeResourceVerification",
      { ...options, field: "disableChallengeResourceVerification" },
    );
  }
  if (error.kind === "authentication") {
    return new PermissionDeniedError(secretId, { ...options, message: "signing in to Azure failed" });
  }
  if (error.kind === "timeout") {
    return new ProviderUnavailableError(secretId, {
      ...options,
      message: "Key Vault did not answer within requestTimeoutMs",
    });
  }
  const status = error.statusCode;
  if (status === 401 || status === 403) {
    return new PermissionDeniedError(secretId, {
      ...options,
      message: `Key Vault denied access (${status}${error.code ? ` ${error.code}` : ""})`,
    });
  }
  if (status === 404) return secretId === undefined ? undefined : new SecretNotFoundError(secretId, options);
  if (status === 409 && secretId !== undefined) {
    return operation === "store"
      ? new SecretAlreadyExistsError(secretId, options)
      : new SecretNotFoundError(secretId, options);
  }
  if (status === undefined && isTlsTrustErrorCode(error.code)) {
    return new ConfigError(
      `the vault's TLS certificate is not trusted (${error.code}): give its CA in caCertFile (TLS stays verified)`,
      { ...options, field: "caCertFile" },
    );
  }
  if (isUnavailable(error)) {
    return new ProviderUnavailableError(secretId, {
      ...options,
      message: `Key Vault was unavailable after retries (${status ?? error.code ?? "no answer"})`,
    });
  }
  return undefined;
}
