/**
 * Building blocks shared by every provider's options schema: the name prefix, the owner and the
 * read cache.
 * Each adapter owns its own options schema in `adapters/<provider>/options.ts` and builds it
 * from these; the schema module is loaded only for the provider a config selects.
 */
import { z } from "zod";

/**
 * Letters, digits and dashes only, because the prefix becomes part of a provider-native name
 * and this is the alphabet every provider accepts (Azure allows no `_` or `/`, GCP no `/`): a
 * prefix that works on one cloud works on all, so moving secrets never needs a rename.
 */
export const prefixSchema = z
  .string()
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,46}[A-Za-z0-9])?$/, {
    message: "must be 1-48 letters, digits or dashes, starting and ending with a letter or digit",
  })
  .default("omnisecret");

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
export const ownerSchema = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/, {
    message: "must be 1-40 lowercase letters, digits or dashes, starting and ending with a letter or digit",
  })
  .default("default");

/**
 * Strict ownership: check the secret's owner tag or label before every read and write (one
 * request more where the provider's read does not return them), so a secret someone else put
 * at an omnisecret name is not found rather than used.
 */
export const verifyOwnershipSchema = z.boolean().default(false);

/**
 * The opt-in read cache, a field every provider accepts (env `OMNISECRET_CACHE_TTL_MS`,
 * `OMNISECRET_CACHE_MAX_ENTRIES`, `OMNISECRET_CACHE_NOT_FOUND`). Off when absent.
 */
export const cacheSchema = z
  .strictObject({
    /** Milliseconds a value read from the provider is served from memory. */
    ttlMs: z.number().int().positive(),
    /**
     * Entries kept at most; the least recently used go first. Bounded, so that a slip of the
     * keyboard cannot let the cache grow to hold a whole store in memory.
     * @default 1000
     */
    maxEntries: z.number().int().positive().max(1_000_000).default(1_000),
    /**
     * Cache "not found" answers too, until they expire or this process stores the id.
     * @default false
     */
    cacheNotFound: z.boolean().default(false),
  })
  .optional();

/** `localhost`, `127.0.0.0/8` and `::1` (bracketed or not): the hosts plain HTTP may go to, where it cannot be overheard. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(bare);
}

/**
 * Refuses a plain `http://` URL in `field` unless its host is loopback or `allowPlaintextRemote`
 * is set: over plain HTTP a request's signature or token, and the values themselves, cross the
 * network unencrypted. For an options schema's `superRefine`.
 */
export function refusePlaintextRemote(field: string) {
  return (options: Record<string, unknown>, context: z.RefinementCtx): void => {
    const value = options[field];
    if (typeof value !== "string" || !URL.canParse(value)) return;
    const url = new URL(value);
    if (url.protocol !== "http:" || isLoopbackHost(url.hostname) || options.allowPlaintextRemote === true) return;
    context.addIssue({
      code: "custom",
      path: [field],
      message:
        "uses plain http to a host other than localhost, 127.0.0.0/8 or ::1 (credentials and values would cross the network unencrypted); use https, or set allowPlaintextRemote to force it",
    });
  };
}
