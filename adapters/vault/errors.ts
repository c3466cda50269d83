/**
 * How Vault's answers become omnisecret's errors, in one place.
 *
 * node-vault's errors are not kept as causes: a failed request's axios error carries the request
 * body, which for a write is the secret's values. Causes are rebuilt as `VaultRequestError`,
 * which holds the status, Vault's error strings and the network error code only.
 */
import {
  ConfigError,
  isNetworkErrorCode,
  isTlsTrustErrorCode,
  PermissionDeniedError,
  ProviderUnavailableError,
  SecretAlreadyExistsError,
  SecretNotFoundError,
  type SecretStoreError,
} from "../../src/kit/index.js";

export const PROVIDER = "vault";

/** A Vault request that failed, described without its body (its error and warning strings only). */
export class VaultRequestError extends Error {
  override name = "VaultRequestError";
  readonly statusCode: number | undefined;
  readonly code: string | undefined;
  readonly errors: readonly string[];
  readonly warnings: readonly string[];

  constructor(
    statusCode: number | undefined,
    code: string | undefined,
    errors: readonly string[],
    warnings: readonly string[] = [],
  ) {
    super(
      statusCode !== undefined
        ? `Vault answered ${statusCode}${errors.length > 0 ? `: ${errors.join("; ")}` : ""}`
        : `Vault could not be reached (${code ?? "network error"})`,
    );
    this.statusCode = statusCode;
    this.code = code;
    this.errors = errors;
    this.warnings = warnings;
  }
}

/** Rebuilds whatever node-vault threw as a `VaultRequestError` (see above for why). */
export function toVaultRequestError(error: unknown): VaultRequestError {
  if (error instanceof VaultRequestError) return error;
  const candidate = (error ?? {}) as {
    response?: { statusCode?: number; body?: { errors?: unknown; warnings?: unknown } };
    code?: unknown;
  };
  const statusCode = candidate.response?.statusCode;
  const rawErrors = candidate.response?.body?.errors;
  const errors = strings(rawErrors);
  const warnings = strings(candidate.response?.body?.warnings);
  const code = typeof candidate.code === "string" ? candidate.code : undefined;
  return new VaultRequestError(statusCode, statusCode === undefined ? (code ?? "EUNKNOWN") : code, errors, warnings);
}

/** One attempt of a request, its failure thrown as `VaultRequestError`: what the retries and the mapping read. */
export function asVaultRequest<T>(request: () => Promise<T>): () => Promise<T> {
  return async () => {
    try {
      return await request();
    } catch (error) {
      throw toVaultRequestError(error);
    }
  };
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

/**
 * Whether the server has no such endpoint (as opposed to nothing stored there): a 405, or a 404
 * that says so. OpenBao and Vault answer a KV v2 path they do not know with 404, no `errors` and
 * the warning "Invalid path for a versioned K/V secrets engine" (HashiCorp Vault for
 * `detailed-metadata/`); Vault's framework says "unsupported path" in `errors`. A LIST of an
 * empty folder is a 404 with `"errors": []` and no warning.
 */
export function isUnsupportedPath(error: VaultRequestError): boolean {
  if (error.statusCode === 405) return true;
  if (error.statusCode !== 404) return false;
  return (
    error.warnings.some((warning) => /invalid path/i.test(warning)) ||
    error.errors.some((message) => /unsupported (path|operation)/i.test(message))
  );
}

/** 429 (rate limited), 5xx (sealed, standby, overloaded) and unanswered requests pass with time. */
export function isRetryable(error: unknown): boolean {
  if (!(error instanceof VaultRequestError)) return false;
  const status = error.statusCode;
  if (status === undefined) return isNetworkErrorCode(error.code) || error.code === "EUNKNOWN";
  return status === 429 || status >= 500;
}

export function isCheckAndSetMismatch(error: VaultRequestError): boolean {
  return error.statusCode === 400 && error.errors.some((message) => /check-and-set/i.test(message));
}

/** Maps a failed request to a typed error, or returns undefined for one with no typed counterpart. */
export function mapVaultError(error: VaultRequestError, secretId: string | undefined): SecretStoreError | undefined {
  const options = { provider: PROVIDER, cause: error };
  if (error.statusCode === 404) {
    return secretId === undefined ? undefined : new SecretNotFoundError(secretId, options);
  }
  if (isCheckAndSetMismatch(error)) {
    return secretId === undefined ? undefined : new SecretAlreadyExistsError(secretId, options);
  }
  if (error.statusCode === 403 || error.statusCode === 401) {
    return new PermissionDeniedError(secretId, { ...options, message: `Vault denied access (${error.statusCode})` });
  }
  if (error.statusCode === undefined && isTlsTrustErrorCode(error.code)) {
    return new ConfigError(
      `Vault's TLS certificate is not trusted (${error.code}): give its CA in caCertFile (VAULT_CACERT); TLS stays verified`,
      { ...options, field: "caCertFile" },
    );
  }
  if (isRetryable(error)) {
    return new ProviderUnavailableError(secretId, {
      ...options,
      message: `Vault was unavailable after retries (${error.statusCode ?? error.code})`,
    });
  }
  return undefined;
}
