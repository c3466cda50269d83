/**
 * References to one value of one secret: `omnisecret://<uuid>/<key>`, the key percent-encoded
 * where it holds `/`, `%` or another reserved character (what `encodeURIComponent` gives, which
 * `formatReference` writes). Read strictly: a malformed reference is an `InvalidReferenceError`,
 * never a text passed on as it is, and a reference to a missing secret or key is a
 * `SecretNotFoundError` naming the reference, never an empty value.
 */
import type { SecretValues } from "./contract.js";
import { InvalidReferenceError, SecretNotFoundError } from "./errors.js";
import type { GetManyOptions, SecretStore } from "./secret-store.js";
import { canonicalSecretId } from "./validation.js";

export const REFERENCE_SCHEME = "omnisecret://";

export interface SecretReference {
  /** The secret's canonical (lower-case) UUID. */
  readonly secretId: string;
  /** The key, decoded. */
  readonly key: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Characters a key may hold unencoded: anything but the URL delimiters (`/ ? #`), `%` outside an
 * escape, whitespace and control characters, so that a reference reads back as one token.
 */
const RAW_KEY = /^(?:[^\s/?#%\p{Cc}]|%[0-9A-Fa-f]{2})+$/u;

/** Whether `text` is meant as a reference: it starts with `omnisecret://` (it may still be malformed). */
export function looksLikeReference(text: string): boolean {
  return text.startsWith(REFERENCE_SCHEME);
}

/** Whether `text` is a well-formed reference. */
export function isReference(text: string): boolean {
  try {
    parseReference(text);
    return true;
  } catch {
    return false;
  }
}

/** Parses `omnisecret://<uuid>/<key>`; throws `InvalidReferenceError` saying what is wrong. */
export function parseReference(text: string): SecretReference {
  if (typeof text !== "string" || !looksLikeReference(text)) {
    throw new InvalidReferenceError(`a reference starts with ${REFERENCE_SCHEME}`);
  }
  const rest = text.slice(REFERENCE_SCHEME.length);
  const slash = rest.indexOf("/");
  const id = slash === -1 ? rest : rest.slice(0, slash);
  if (!UUID.test(id)) throw new InvalidReferenceError(`${REFERENCE_SCHEME}<uuid>/<key>: the secret id is not a UUID`);
  if (slash === -1 || slash === rest.length - 1) {
    throw new InvalidReferenceError(`${REFERENCE_SCHEME}<uuid>/<key>: the key is missing`);
  }
  const encoded = rest.slice(slash + 1);
  if (!RAW_KEY.test(encoded)) {
    throw new InvalidReferenceError(
      "the key holds a character that must be percent-encoded (/ ? # % whitespace or a control character) or a % not followed by two hex digits",
    );
  }
  let key: string;
  try {
    key = decodeURIComponent(encoded);
  } catch {
    throw new InvalidReferenceError("the key's percent-encoding is not UTF-8");
  }
  return { secretId: canonicalSecretId(id), key };
}

/** The reference to `key` of secret `secretId`, the key percent-encoded. */
export function formatReference(secretId: string, key: string): string {
  return `${REFERENCE_SCHEME}${canonicalSecretId(secretId)}/${encodeURIComponent(key)}`;
}

/** What `resolveReferences` passes on to `getManySecretValues`. */
export type ResolveOptions = Pick<GetManyOptions, "concurrency" | "fresh" | "signal">;

/**
 * Every distinct reference among `texts`, parsed, and the values they name, each secret read once
 * through the batch path. Rejects with `InvalidReferenceError` (before any request) or
 * `SecretNotFoundError` naming the reference.
 */
export async function readReferences(
  texts: Iterable<string>,
  store: Pick<SecretStore, "getManySecretValues">,
  options: ResolveOptions = {},
): Promise<Map<string, string>> {
  const parsed = new Map<string, SecretReference>();
  for (const text of texts) if (!parsed.has(text)) parsed.set(text, parseReference(text));
  if (parsed.size === 0) return new Map();
  const ids = [...new Set([...parsed.values()].map((reference) => reference.secretId))];
  const results = await store.getManySecretValues(ids, { ...options, onMissing: "skip" });
  const resolved = new Map<string, string>();
  for (const [text, { secretId, key }] of parsed) {
    const result = results.get(secretId);
    if (result !== undefined && "error" in result) throw result.error;
    const values: SecretValues | undefined = result?.values;
    if (values === undefined) {
      throw new SecretNotFoundError(secretId, { message: `reference ${text}: secret ${secretId} was not found` });
    }
    if (!Object.hasOwn(values, key)) {
      throw new SecretNotFoundError(secretId, {
        message: `reference ${text}: secret ${secretId} has no key ${JSON.stringify(key)}`,
      });
    }
    resolved.set(text, values[key] as string);
  }
  return resolved;
}

/**
 * A copy of `record` with every value that is a whole reference (`omnisecret://...`) replaced by
 * the value it names; other values are kept as they are. Each distinct secret is read once, through
 * `getManySecretValues`. Rejects with `InvalidReferenceError` for a malformed reference (before
 * any request) and `SecretNotFoundError` naming the reference for a missing secret or key.
 */
export async function resolveReferences<T extends Readonly<Record<string, string | undefined>>>(
  record: T,
  store: Pick<SecretStore, "getManySecretValues">,
  options: ResolveOptions = {},
): Promise<T> {
  const texts = Object.values(record).filter(
    (value): value is string => typeof value === "string" && looksLikeReference(value),
  );
  const resolved = await readReferences(texts, store, options);
  const copy: Record<string, string | undefined> = { ...record };
  for (const [name, value] of Object.entries(copy)) {
    if (value !== undefined && resolved.has(value)) copy[name] = resolved.get(value);
  }
  return copy as T;
}
