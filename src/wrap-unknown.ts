/**
 * Turning whatever an adapter threw into a `SecretStoreError`, with the call's values cut out of
 * every text: shared by the facade and by adapters that wrap other adapters (the backup store).
 */
import type { SecretValues } from "./contract.js";
import { isSecretStoreError, SecretStoreError } from "./errors.js";

export type Operation = "store" | "get" | "update" | "delete" | "list" | "close" | "create";

/**
 * Typed errors pass through (with the provider filled in); anything else becomes a
 * `SecretStoreError` with code `E_UNKNOWN` that keeps the original as `cause`. Its message
 * quotes the cause's message with every value the call carried cut out.
 */
export function wrapUnknown(
  error: unknown,
  provider: string,
  operation: Operation,
  secretId?: string,
  values?: SecretValues,
): SecretStoreError {
  if (isSecretStoreError(error)) {
    error.provider ??= provider;
    return error;
  }
  const name = error instanceof Error ? error.name : typeof error;
  const causeMessage = error instanceof Error ? redactValues(error.message, values) : "";
  const target = secretId ? ` secret ${secretId}` : "";
  return new SecretStoreError(
    "E_UNKNOWN",
    `${operation}${target} failed on provider "${provider}": ${name}${causeMessage ? `: ${causeMessage}` : ""}`,
    { provider, secretId, cause: redactedCause(error, values) },
  );
}

/** Causes nested deeper than this are cut off: a chain that long is a loop or not worth a log line. */
const MAX_CAUSE_DEPTH = 5;

/**
 * A copy of an unknown error that keeps what helps to debug it (name, code, HTTP status, stack
 * frames, nested causes) with the call's values cut out of every message and stack. The original
 * is not kept: a custom adapter's or an SDK's error can quote a value anywhere in its fields, and
 * `util.inspect` or a logger would print them all.
 */
function redactedCause(error: unknown, values: SecretValues | undefined, depth = 0): Error | undefined {
  if (!(error instanceof Error) || depth >= MAX_CAUSE_DEPTH) return undefined;
  const copy = new Error(redactValues(error.message, values));
  copy.name = error.name;
  copy.stack = error.stack === undefined ? undefined : redactValues(error.stack, values);
  const { code, status, $metadata } = error as {
    code?: unknown;
    status?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  // The AWS SDK keeps the HTTP status in $metadata.
  const statusCode = (error as { statusCode?: unknown }).statusCode ?? $metadata?.httpStatusCode;
  for (const [field, value] of Object.entries({ code, statusCode, status })) {
    if (typeof value === "string" || typeof value === "number") Object.assign(copy, { [field]: value });
  }
  const cause = redactedCause(error.cause, values, depth + 1);
  if (cause) copy.cause = cause;
  return copy;
}

/**
 * Values shorter than this are not cut out of texts: a one-letter value would shred every word
 * of a message, and such a value is not told apart from ordinary text anyway. omnisecret's own
 * messages never contain values; this is the second line of defence, for provider messages.
 */
const MIN_REDACTED_VALUE_LENGTH = 4;

export function redactValues(text: string, values: SecretValues | undefined): string {
  if (!values) return text;
  let result = text;
  // Longest first, so a value that contains another is cut out whole.
  const secrets = Object.values(values)
    .filter((value) => value.length >= MIN_REDACTED_VALUE_LENGTH)
    .sort((a, b) => b.length - a.length);
  for (const secret of secrets) result = result.split(secret).join("[redacted]");
  return result;
}
