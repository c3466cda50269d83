/**
 * Building blocks shared by every provider's options schema: the name prefix, and the mapping
 * from environment variables to option fields. Each adapter owns its own options schema in
 * `adapters/<provider>/options.ts` and builds it from these.
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
 * The opt-in read cache, a field every provider accepts (env `OMNISECRET_CACHE_TTL_MS`,
 * `OMNISECRET_CACHE_MAX_ENTRIES`, `OMNISECRET_CACHE_NOT_FOUND`). Off when absent.
 */
export const cacheSchema = z
  .strictObject({
    /** Milliseconds a value read from the provider is served from memory. */
    ttlMs: z.number().int().positive(),
    /**
     * Entries kept at most; the least recently used go first. The cache reserves room for this
     * many when it is made, hence the upper bound.
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

export type EnvFieldType = "string" | "integer" | "boolean" | "json";

/** One option field and the environment variables it can be read from, first match wins. */
export interface EnvField {
  /** Dotted path of the option, such as `path` or `credentials.accessKeyId`. */
  readonly field: string;
  /** Variable names, omnisecret's own first, then the provider's standard ones. */
  readonly names: readonly string[];
  readonly type: EnvFieldType;
  /** Credentials and keys: never shown in messages or inspect output. */
  readonly secret?: boolean;
}

/** `OMNISECRET_<PROVIDER>_<FIELD>` for a camelCase field, e.g. `local` + `maxValueBytes`. */
export function omnisecretEnvName(provider: string, field: string): string {
  const snake = field
    .split(".")
    .map((part) => part.replace(/([a-z0-9])([A-Z])/g, "$1_$2"))
    .join("_")
    .toUpperCase();
  return `OMNISECRET_${provider.toUpperCase()}_${snake}`;
}

/** Shorthand for a field read from its `OMNISECRET_<PROVIDER>_<FIELD>` variable, then `standardNames`. */
export function envField(
  provider: string,
  field: string,
  type: EnvFieldType,
  options: { standardNames?: readonly string[]; secret?: boolean } = {},
): EnvField {
  return {
    field,
    type,
    names: [omnisecretEnvName(provider, field), ...(options.standardNames ?? [])],
    ...(options.secret ? { secret: true } : {}),
  };
}
