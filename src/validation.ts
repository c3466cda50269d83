import type { SecretValues } from "./contract.js";
import {
  describeInput,
  InvalidSecretIdError,
  InvalidSecretValuesError,
  SecretIntegrityError,
  SecretTooLargeError,
} from "./errors.js";

/** A canonical secret id: a UUID in lowercase, the only form the facade hands an adapter. */
const CANONICAL_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const UUID_PATTERN = new RegExp(`^${CANONICAL_UUID}$`, "i");
const CANONICAL_UUID_PATTERN = new RegExp(`^${CANONICAL_UUID}$`);

/** Returns the canonical (lowercase) form of a UUID secret id, or throws `InvalidSecretIdError`. */
export function canonicalSecretId(id: unknown, provider?: string): string {
  if (typeof id !== "string" || !UUID_PATTERN.test(id)) {
    throw new InvalidSecretIdError(id, { provider });
  }
  return id.toLowerCase();
}

export function isCanonicalSecretId(id: string): boolean {
  return CANONICAL_UUID_PATTERN.test(id);
}

/**
 * A pattern for an adapter's provider-native names, `<before><uuid><after>`, whose first group
 * is the secret id; names around anything but a canonical UUID do not match, so `list` never
 * yields an id that `get` would refuse.
 */
export function secretNamePattern(before: string, after = "", options: { ignoreCase?: boolean } = {}): RegExp {
  // ignoreCase: for providers whose names are case-insensitive (Key Vault); lowercase the id found.
  return new RegExp(
    `^${escapeRegExp(before)}(${CANONICAL_UUID})${escapeRegExp(after)}$`,
    options.ignoreCase ? "i" : "",
  );
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Checks that `values` is a plain object of non-empty string keys to string values and returns
 * a copy, so a caller who changes their object afterwards cannot change what is stored.
 * Error messages name the offending key and the type found, never a value.
 */
export function copyValidSecretValues(values: unknown, secretId: string, provider?: string): SecretValues {
  try {
    return copyValues(values, secretId, provider);
  } catch (error) {
    if (error instanceof InvalidSecretValuesError) throw error;
    // A getter or Proxy trap of the caller's object threw: its error may quote anything, so
    // only its kind is told.
    const kind = error instanceof Error ? error.name : typeof error;
    throw new InvalidSecretValuesError(secretId, `the values could not be read (reading them threw ${kind})`, {
      provider,
    });
  }
}

/**
 * Lone UTF-16 surrogates: JSON and UTF-8 cannot carry them, so some providers would store
 * U+FFFD in their place and hand back another string than the one given.
 */
const LONE_SURROGATE = /\p{Surrogate}/u;

function copyValues(values: unknown, secretId: string, provider?: string): SecretValues {
  if (values === null || typeof values !== "object" || Array.isArray(values)) {
    throw new InvalidSecretValuesError(
      secretId,
      `values must be an object of string keys to string values (got ${describeInput(values)})`,
      { provider },
    );
  }
  const prototype = Object.getPrototypeOf(values);
  if (prototype !== Object.prototype && prototype !== null) {
    throw new InvalidSecretValuesError(secretId, "values must be a plain object (got an instance of a class)", {
      provider,
    });
  }
  if (Object.getOwnPropertySymbols(values).length > 0) {
    throw new InvalidSecretValuesError(secretId, "keys must be strings (got a symbol key)", { provider });
  }
  const source = values as Record<string, unknown>;
  const copy: SecretValues = {};
  // A plain loop over the keys: this runs on every store, update and get, and is several times
  // faster than Object.entries and Object.fromEntries.
  const keys = Object.keys(source);
  for (let index = 0; index < keys.length; index += 1) {
    const key = keys[index] as string;
    const value = source[key];
    if (key.length === 0) {
      throw new InvalidSecretValuesError(secretId, "keys must be non-empty strings", { provider });
    }
    if (typeof value !== "string") {
      throw new InvalidSecretValuesError(
        secretId,
        `the value of key ${JSON.stringify(key)} must be a string (got ${describeInput(value)})`,
        { provider },
      );
    }
    if (LONE_SURROGATE.test(key) || LONE_SURROGATE.test(value)) {
      throw new InvalidSecretValuesError(
        secretId,
        // The key is not quoted: a lone surrogate does not survive being printed either.
        `a key or value holds a lone UTF-16 surrogate, which no provider can store unchanged (key number ${index + 1})`,
        { provider },
      );
    }
    // Assigning "__proto__" would set the prototype; it must stay an own data property.
    if (key === "__proto__") {
      Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
    } else {
      copy[key] = value;
    }
  }
  return copy;
}

/** Serialises values and enforces a provider's size limit on the UTF-8 bytes of the JSON. */
export function serializeWithinLimit(
  values: SecretValues,
  secretId: string,
  maxValueBytes: number,
  provider?: string,
): string {
  const serialized = JSON.stringify(values);
  const sizeBytes = Buffer.byteLength(serialized, "utf8");
  if (sizeBytes > maxValueBytes) {
    throw new SecretTooLargeError(secretId, sizeBytes, maxValueBytes, { provider });
  }
  return serialized;
}

/**
 * Parses stored JSON back into values, checking its shape: data that is not a map of strings
 * is reported as an integrity failure rather than handed to the caller.
 */
export function parseStoredValues(serialized: string, secretId: string, provider?: string): SecretValues {
  let parsed: unknown;
  try {
    parsed = JSON.parse(serialized);
  } catch {
    // V8's JSON.parse message quotes the input, so the native error is not kept as the cause.
    throw new SecretIntegrityError(secretId, "the stored data is not valid JSON", { provider });
  }
  return checkStoredValues(parsed, secretId, provider);
}

/** Checks the shape of values a provider returned already parsed, and copies them. */
export function checkStoredValues(stored: unknown, secretId: string, provider?: string): SecretValues {
  try {
    return copyValidSecretValues(stored, secretId, provider);
  } catch {
    throw new SecretIntegrityError(secretId, "the stored data is not a map of strings to strings", { provider });
  }
}
