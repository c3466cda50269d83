/**
 * Building blocks shared by every provider's options schema: the name prefix, the owner and the
 * read cache.
 * Each adapter owns its own options schema in `adapters/<provider>/options.ts` and builds it
 * from these; the schema module is loaded only for the provider a config selects.
 */
import * as v from "valibot";
import { DEFAULT_OPERATION_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS } from "./deadline.js";

/**
 * Letters, digits and dashes only, because the prefix becomes part of a provider-native name
 * and this is the alphabet every provider accepts (Azure allows no `_` or `/`, GCP no `/`): a
 * prefix that works on one cloud works on all, so moving secrets never needs a rename.
 */
export const prefixSchema = v.optional(
  v.pipe(
    v.string(),
    v.regex(
      /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,46}[A-Za-z0-9])?$/,
      "must be 1-48 letters, digits or dashes, starting and ending with a letter or digit",
    ),
  ),
  "omnisecret",
);

export const DEFAULT_PREFIX = "omnisecret";

/**
 * Which installation a secret belongs to, as ZenML's server id does. It becomes part of the
 * provider-native name (`<prefix>/<owner>/<uuid>` on AWS and Vault, `<prefix>-<owner>-<uuid>` on
 * GCP and Azure), so the name alone says whose a secret is and no read is needed before a call;
 * the same value is also written as a tag or label, for people and for `verifyOwnership`.
 * Lowercase letters, digits and dashes: the alphabet every provider accepts in a name and in a
 * tag or label value (GCP labels are lowercase, Azure names have no `_`). At most 40, so that
 * prefix, owner and UUID fit Azure's 127-character names.
 */
export const ownerSchema = v.optional(
  v.pipe(
    v.string(),
    v.regex(
      /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/,
      "must be 1-40 lowercase letters, digits or dashes, starting and ending with a letter or digit",
    ),
  ),
  "default",
);

/** The owner of a config that names none. */
export const DEFAULT_OWNER = "default";

/**
 * Strict ownership: check the secret's owner tag or label before every read and write (one
 * request more where the provider's read does not return them), so a secret someone else put
 * at an omnisecret name is not found rather than used.
 */
export const verifyOwnershipSchema = v.optional(v.boolean(), false);

/** A whole number from `min` to `max`: every numeric option is a count, a size, a port or milliseconds. */
export function integer(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  return v.pipe(v.number(), v.safeInteger(), v.minValue(min), v.maxValue(max));
}

/*
 * The options the cloud adapters share (aws, gcp, vault, azure), each defined once here and used by
 * every options schema that has it; their defaults and why `maxAttempts` differs per provider are
 * in docs/configuration.md's table.
 */

/** Milliseconds one request (one attempt) may take. @default 10000 (`DEFAULT_REQUEST_TIMEOUT_MS`) */
export const requestTimeoutMsSchema = v.optional(integer(1, 600_000), DEFAULT_REQUEST_TIMEOUT_MS);

/** Milliseconds one operation may take, every request, retry and backoff in it included. @default 20000 */
export const operationTimeoutMsSchema = v.optional(integer(1, 600_000), DEFAULT_OPERATION_TIMEOUT_MS);

/**
 * Attempts for each request the provider may answer with a passing failure. Each adapter gives its
 * own default: the SDKs' retry guidance differs (docs/configuration.md says why for each).
 */
export function maxAttemptsSchema(defaultAttempts: number, most = 20) {
  return v.optional(integer(1, most), defaultAttempts);
}

/** Send values over plain http to a host that is not this machine. @default false */
export const allowPlaintextRemoteSchema = v.optional(v.boolean(), false);

/** PEM file of a CA to trust beside the system's (src/kit/tls-trust.ts). */
export const caCertFileSchema = v.optional(v.pipe(v.string(), v.minLength(1)));

/**
 * A URL whose scheme is one of `schemes`. Surrounding whitespace is dropped, and an http(s) URL
 * must spell out `//`, so `http:example.com` is refused rather than read as a host; tabs and
 * line breaks, which the URL parser ignores, are taken out of the value kept, so that what is
 * checked is what is used.
 */
export function urlSchema(schemes: readonly ["http", "https"] | readonly ["https"]) {
  const words = schemes.length === 1 ? "an https URL" : "an http or https URL";
  return v.pipe(
    v.string(),
    v.trim(),
    // Before the check: a transformation after a failed check would leave the value untyped, and
    // a union around it would then report the union instead of this field.
    v.transform((value) => value.replace(/[\t\n\r]/g, "")),
    v.check((value) => {
      if (schemes.length === 2 && !/^https?:\/\//i.test(value)) return false;
      if (!URL.canParse(value)) return false;
      return (schemes as readonly string[]).includes(new URL(value).protocol.slice(0, -1));
    }, `must be ${words}`),
  );
}

/**
 * The opt-in read cache, a field every provider accepts (env `OMNISECRET_CACHE_TTL_MS`,
 * `OMNISECRET_CACHE_MAX_ENTRIES`, `OMNISECRET_CACHE_NOT_FOUND`). Off when absent.
 */
export const cacheSchema = v.optional(
  v.strictObject({
    /** Milliseconds a value read from the provider is served from memory. */
    ttlMs: integer(1),
    /**
     * Entries kept at most; the least recently used go first. Bounded, so that a slip of the
     * keyboard cannot let the cache grow to hold a whole store in memory.
     * @default 1000
     */
    maxEntries: v.optional(integer(1, 1_000_000), 1_000),
    /**
     * Cache "not found" answers too, until they expire or this process stores the id.
     * @default false
     */
    cacheNotFound: v.optional(v.boolean(), false),
  }),
);

/** `localhost`, `127.0.0.0/8` and `::1` (bracketed or not): the hosts plain HTTP may go to, where it cannot be overheard. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(bare);
}

/**
 * Whether `url` is plain `http://` to a host other than loopback while `allowPlaintextRemote` is
 * off: over plain HTTP a request's signature or token, and the values themselves, cross the
 * network unencrypted. For an options schema's check of its URL field.
 */
export function isRefusedPlaintext(url: string | undefined, allowPlaintextRemote: boolean): boolean {
  if (url === undefined || !URL.canParse(url) || allowPlaintextRemote) return false;
  const parsed = new URL(url);
  return parsed.protocol === "http:" && !isLoopbackHost(parsed.hostname);
}

export const PLAINTEXT_REMOTE_MESSAGE =
  "uses plain http to a host other than localhost, 127.0.0.0/8 or ::1 (credentials and values would cross the network unencrypted); use https, or set allowPlaintextRemote to force it";
