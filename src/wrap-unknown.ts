/**
 * Turning whatever an adapter threw into a `SecretStoreError`, with the call's values cut out of
 * every text: shared by the facade and by adapters that wrap other adapters (the backup store).
 */
import { inspect } from "node:util";
import type { SecretValues } from "./contract.js";
import { isSecretStoreError, SecretIntegrityError, SecretStoreError } from "./errors.js";

export type Operation =
  | "store"
  | "get"
  | "update"
  | "delete"
  | "list"
  | "list versions of"
  | "get revision of"
  | "close"
  | "create";

/**
 * Typed errors pass through (with the provider filled in, and the call's values cut out); anything else becomes a
 * `SecretStoreError` with code `E_UNKNOWN` that keeps the original as `cause`. Its message
 * quotes the cause's message with every value the call carried cut out. A `SyntaxError` from a
 * get (JSON.parse on stored data) becomes `E_SECRET_INTEGRITY`, keeping none of the parser's text.
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
    if (values) redactTypedError(error, values);
    return error;
  }
  if (operation === "get" && error instanceof Error && error.name === "SyntaxError") {
    // What JSON.parse throws on a stored map that is not JSON: its message quotes the stored
    // text, values and all, so none of it is kept, only the stack frames.
    return new SecretIntegrityError(secretId, "its stored data could not be parsed", {
      provider,
      cause: framesOnly(error),
    });
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

/**
 * A typed error (a custom adapter's, say) that quotes a value of the call: the value is cut out
 * of its message and stack, and its cause is replaced by a redacted copy. One that quotes none
 * is left as it was, its cause included.
 */
function redactTypedError(error: SecretStoreError, values: SecretValues): void {
  const message = redactValues(error.message, values);
  if (message !== error.message) error.message = message;
  if (error.stack !== undefined) {
    const stack = redactValues(error.stack, values);
    if (stack !== error.stack) error.stack = stack;
  }
  if (error.cause !== undefined) {
    const cause = inspect(error.cause, { depth: MAX_CAUSE_DEPTH });
    if (redactValues(cause, values) !== cause) error.cause = redactedCause(error.cause, values);
  }
}

/** A `SyntaxError` with no message, and of its stack only the frames: a parser's text can quote what it parsed. */
function framesOnly(error: Error): Error {
  const copy = new SyntaxError();
  const frames = (error.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line));
  copy.stack = ["SyntaxError", ...frames].join("\n");
  return copy;
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

/**
 * Cuts every value of `values` (of at least `MIN_REDACTED_VALUE_LENGTH` characters) out of
 * `text`, in each form a message can quote it in: raw, JSON-escaped (as inside a serialized
 * map), and escaped as `util.inspect` quotes a string (`'...'`, `"..."` or `` `...` ``, with
 * `\n`, `\x00` and the like). Longest first, so a value that contains another is cut out whole.
 */
export function redactValues(text: string, values: SecretValues | undefined): string {
  if (!values) return text;
  const forms = new Set<string>();
  // Not every caller has validated the map: what is not a string is no value to cut out.
  for (const value of Object.values(values) as unknown[]) {
    if (typeof value !== "string" || value.length < MIN_REDACTED_VALUE_LENGTH) continue;
    forms.add(value);
    forms.add(JSON.stringify(value).slice(1, -1));
    for (const quote of INSPECT_QUOTES) forms.add(inspectEscaped(value, quote));
  }
  let result = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) {
    if (result.includes(form)) result = result.split(form).join("[redacted]");
  }
  return result;
}

/** The quotes `util.inspect` puts around a string: single, or double or a backtick when the string holds a single quote. */
const INSPECT_QUOTES = ["'", '"', "`"] as const;

/** Characters inspect leaves as they are (every printable ASCII one but the backslash; the quotes are handled apart). */
const PRINTABLE_ASCII = /^[\x20-\x5b\x5d-\x7e]$/;

/**
 * `value` escaped as `util.inspect` escapes it between `quote`s, without the quotes. inspect
 * escapes one character at a time (control characters, the backslash, lone surrogates, its own
 * quote), so each character is escaped as inspect escapes it alone.
 */
function inspectEscaped(value: string, quote: (typeof INSPECT_QUOTES)[number]): string {
  let result = "";
  for (const character of value) {
    if (character === quote) result += `\\${quote}`;
    else if (character === "'" || character === '"' || character === "`" || PRINTABLE_ASCII.test(character)) {
      result += character;
    } else result += inspect(character).slice(1, -1);
  }
  return result;
}
