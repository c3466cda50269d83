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
 * The opt-in read cache, a field every provider accepts (env `OMNISECRET_CACHE_TTL_MS`,
 * `OMNISECRET_CACHE_MAX_ENTRIES`, `OMNISECRET_CACHE_NOT_FOUND`,
 * `OMNISECRET_CACHE_STALE_IF_ERROR_MS`). Off when absent.
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
    /**
     * Milliseconds beyond `ttlMs` a value is kept to answer a get whose provider is unavailable
     * (`E_PROVIDER_UNAVAILABLE` only: never after a permission, not-found or integrity answer).
     * 0: a get fails when the provider does.
     * @default 0
     */
    staleIfErrorMs: v.optional(integer(0), 0),
  }),
);

export const DEFAULT_CIRCUIT_FAILURE_THRESHOLD = 5;
export const DEFAULT_CIRCUIT_OPEN_MS = 30_000;

/**
 * The opt-in circuit breaker of a store's adapter (the primary's, and the backup's of its own), a
 * field every provider accepts (env `OMNISECRET_CIRCUIT_BREAKER_FAILURE_THRESHOLD`,
 * `OMNISECRET_CIRCUIT_BREAKER_OPEN_MS`). Off when absent; `{}` turns it on with the defaults.
 */
export const circuitBreakerSchema = v.optional(
  v.strictObject({
    /**
     * Consecutive `E_PROVIDER_UNAVAILABLE` failures (each one an operation that spent its
     * attempts or its deadline) that open the breaker.
     * @default 5
     */
    failureThreshold: v.optional(integer(1, 1_000), DEFAULT_CIRCUIT_FAILURE_THRESHOLD),
    /**
     * Milliseconds calls fail at once while the breaker is open; then one trial call decides.
     * @default 30000
     */
    openMs: v.optional(integer(1, 3_600_000), DEFAULT_CIRCUIT_OPEN_MS),
  }),
);

/**
 * OpenTelemetry spans and metrics (docs/telemetry.md), a field every provider accepts (env
 * `OMNISECRET_TELEMETRY_ENABLED`, `OMNISECRET_TELEMETRY_INCLUDE_SECRET_IDS`). On by default, and
 * then only at work when `@opentelemetry/api` is installed. Absent: the defaults.
 */
export const telemetrySchema = v.optional(
  v.strictObject({
    /**
     * Spans and metrics through `@opentelemetry/api`, when it is installed and an SDK is
     * registered; `false` never loads it.
     * @default true
     */
    enabled: v.optional(v.boolean(), true),
    /**
     * Put secret ids on spans and record failures' exceptions (their messages name ids). Off
     * because in some teams ids are sensitive too.
     * @default false
     */
    includeSecretIds: v.optional(v.boolean(), false),
  }),
);

/**
 * Which installation a secret belongs to, as ZenML's server id does. It becomes part of the
 * provider-native name (`<prefix>/<owner>/<uuid>` on AWS and Vault, `<prefix>-<owner>-<uuid>` on
 * GCP and Azure), so the name alone says whose a secret is and no read is needed before a call;
 * the same value is also written as a tag or label, for people and for `verifyOwnership`.
 * Lowercase letters, digits and dashes: the alphabet every provider accepts in a name and in a
 * tag or label value (GCP labels are lowercase, Azure names have no `_`). At most 40, so that
 * prefix, owner and UUID fit Azure's 127-character names.
 */
const ownerSchema = v.optional(
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

/** A whole number from `min` to `max`: every numeric option is a count, a size, a port or milliseconds. */
export function integer(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  return v.pipe(v.number(), v.safeInteger(), v.minValue(min), v.maxValue(max));
}

const sharedCloudEntries = {
  /**
   * Put in front of every secret's provider-native name: 1-48 letters, digits or dashes, starting
   * and ending with a letter or digit.
   * @default "omnisecret"
   */
  prefix: prefixSchema,
  /** The opt-in read cache: `{ ttlMs, maxEntries?, cacheNotFound?, staleIfErrorMs? }`. @default off */
  cache: cacheSchema,
  /** The opt-in circuit breaker: `{ failureThreshold?, openMs? }`. @default off */
  circuitBreaker: circuitBreakerSchema,
  /** OpenTelemetry spans and metrics: `{ enabled?, includeSecretIds? }`. @default `{ enabled: true, includeSecretIds: false }` */
  telemetry: telemetrySchema,
  /**
   * Which installation the secrets belong to, as ZenML's server id does: part of every secret's
   * name (`<prefix>/<owner>/<uuid>` or `<prefix>-<owner>-<uuid>`), so the name alone says whose it
   * is, and written as a tag, label or metadata mark too. 1-40 lowercase letters, digits or dashes.
   * @default "default"
   */
  owner: ownerSchema,
  /**
   * Strict ownership: check the owner's and the id's marks (tags, labels or metadata) before acting
   * on a secret, so a secret someone else put at one of this owner's names is not found and never
   * touched; without it, whatever sits at this owner's name is this owner's. The provider's page
   * says what it checks and what it costs.
   * @default false
   */
  verifyOwnership: v.optional(v.boolean(), false),
  /**
   * Milliseconds one request (one attempt) may take, connecting included; then it is abandoned and
   * sent again if attempts are left.
   * @default 10000
   */
  requestTimeoutMs: v.optional(integer(1, 600_000), DEFAULT_REQUEST_TIMEOUT_MS),
  /**
   * Milliseconds one operation may take, every request, retry, poll and backoff in it included; then
   * it fails with `E_PROVIDER_UNAVAILABLE`. For `listSecretIds`, each page.
   * @default 20000
   */
  operationTimeoutMs: v.optional(integer(1, 600_000), DEFAULT_OPERATION_TIMEOUT_MS),
};

/**
 * The options every cloud adapter shares. Written as a named type so that the declarations of each
 * provider's options refer to it, and an editor shows the JSDoc above for these fields of every
 * provider (an object spread into another file's would lose it).
 */
// Type aliases, not interfaces: an interface has no implicit index signature, so a consumer's
// tsc with skipLibCheck false refused `v.StrictObjectSchema<CloudOptionEntries & ...>` in the
// emitted declarations ("does not satisfy the constraint 'ObjectEntries'"; the consumer smoke test).
export type CloudOptionEntries = Readonly<typeof sharedCloudEntries> & {
  /**
   * Attempts for each request the provider answers with a passing failure (throttling, 5xx, no
   * answer, as the provider's page lists), the first included, with backoff.
   * @default the provider's, following its SDK's guidance (docs/configuration.md's table says each,
   * and why)
   */
  readonly maxAttempts: v.OptionalSchema<ReturnType<typeof integer>, number>;
};

/** The entry of a provider that can be pointed at a server over plain http. */
export type PlaintextRemoteEntries = {
  /**
   * Allow plain, unencrypted traffic to a host other than this machine (a test server or an emulator
   * on another machine). Credentials (a token, a request's signature) and the values then cross the
   * network unencrypted.
   * @default false
   */
  readonly allowPlaintextRemote: v.OptionalSchema<v.BooleanSchema<undefined>, false>;
};
const plaintextRemoteEntries: PlaintextRemoteEntries = { allowPlaintextRemote: v.optional(v.boolean(), false) };

const caCertFileSchema = v.optional(v.pipe(v.string(), v.minLength(1)));

/** The entry of a provider whose server may have a private CA. */
export type CaCertFileEntries = {
  /**
   * PEM file of a CA to trust beside the system's and `NODE_EXTRA_CA_CERTS`'s, for a server with a
   * private CA. It adds trust; TLS is always verified.
   * @default none (the provider's page names a variable it is also read from)
   */
  readonly caCertFile: typeof caCertFileSchema;
};
const caCertFileEntries: CaCertFileEntries = { caCertFile: caCertFileSchema };

/** What a cloud provider takes of the shared options beyond `CloudOptionEntries`, and its `maxAttempts` default. */
export interface SharedOptionsChoice {
  /** The provider's `maxAttempts` default, following its SDK's retry guidance (docs/configuration.md). */
  readonly maxAttempts: number;
  /** The most `maxAttempts` may be. @default 20 */
  readonly mostAttempts?: number;
  /** It can be pointed at a server over plain http: `allowPlaintextRemote` (and its `plaintextRemoteCheck`). */
  readonly allowPlaintextRemote?: true;
  /** Its server may have a private CA: `caCertFile`. */
  readonly caCertFile?: true;
}

type SharedKey = keyof CloudOptionEntries | keyof PlaintextRemoteEntries | keyof CaCertFileEntries;

type ChosenEntries<Choice extends SharedOptionsChoice> = CloudOptionEntries &
  (Choice extends { allowPlaintextRemote: true } ? PlaintextRemoteEntries : unknown) &
  (Choice extends { caCertFile: true } ? CaCertFileEntries : unknown);

/**
 * A cloud adapter's options schema, a strict object: the options every cloud adapter shares,
 * defined once here, as `shared` chooses them, and the provider's own `entries` (which may not
 * redefine a shared one). Their defaults, and why `maxAttempts` differs per provider, are in
 * docs/configuration.md's table; what a provider's SDK does with them (which failures it retries,
 * what ownership costs) is on the provider's page.
 */
export function cloudOptionsSchema<
  const Shared extends SharedOptionsChoice,
  const Entries extends v.ObjectEntries & { readonly [Key in SharedKey]?: never },
>(shared: Shared, entries: Entries) {
  return v.strictObject({
    ...sharedCloudEntries,
    maxAttempts: v.optional(integer(1, shared.mostAttempts ?? 20), shared.maxAttempts),
    ...(shared.allowPlaintextRemote ? plaintextRemoteEntries : {}),
    ...(shared.caCertFile ? caCertFileEntries : {}),
    ...entries,
  } as ChosenEntries<Shared> & Entries);
}

/**
 * Refuses the URL at `field` when it is plain http to a host other than loopback and
 * `allowPlaintextRemote` is off (`isRefusedPlaintext`), reported at `field`. To put after the object
 * in the schema's `v.pipe`: it runs whenever these two fields are valid, even while others are not,
 * so every problem is said at once.
 */
export function plaintextRemoteCheck<Options extends { readonly allowPlaintextRemote: boolean }>(
  field: { [Key in keyof Options]: Options[Key] extends string | undefined ? Key : never }[keyof Options] & string,
) {
  const check = v.partialCheck(
    [[field], ["allowPlaintextRemote"]],
    (options: Record<string, unknown>) =>
      !isRefusedPlaintext(options[field] as string | undefined, options.allowPlaintextRemote === true),
    PLAINTEXT_REMOTE_MESSAGE,
  );
  // valibot cannot type a path chosen by the caller; `field` is checked against `Options` above instead.
  return v.forward(check as unknown as v.BaseValidation<Options, Options, v.BaseIssue<unknown>>, [field] as never);
}

/**
 * An SDK client built in code (tests, advanced use), recognised by its `methods`; refused with
 * "must be <description>". Typed as the provider's own interface, so the types need no SDK.
 */
export function injectedClientSchema<Client>(methods: string | readonly string[], description: string) {
  const required = typeof methods === "string" ? [methods] : methods;
  return v.optional(
    v.custom<Client>(
      (value) =>
        typeof value === "object" &&
        value !== null &&
        required.every((method) => typeof (value as Record<string, unknown>)[method] === "function"),
      `must be ${description}`,
    ),
  );
}

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
function isRefusedPlaintext(url: string | undefined, allowPlaintextRemote: boolean): boolean {
  if (url === undefined || !URL.canParse(url) || allowPlaintextRemote) return false;
  const parsed = new URL(url);
  return parsed.protocol === "http:" && !isLoopbackHost(parsed.hostname);
}

const PLAINTEXT_REMOTE_MESSAGE =
  "uses plain http to a host other than localhost, 127.0.0.0/8 or ::1 (credentials and values would cross the network unencrypted); use https, or set allowPlaintextRemote to force it";
