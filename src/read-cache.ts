/**
 * The opt-in read cache of a `SecretStore`: gets within `ttlMs` are answered from this
 * process's memory. It sits in the facade, so every provider has it.
 *
 * - Entries are least-recently-used beyond `maxEntries` and expire `ttlMs` after they were read
 *   from the provider (lru-cache does both; it is loaded when the first cache is made).
 * - Values are kept frozen and handed out as fresh copies, so nothing a caller does to a map it
 *   got changes the cache.
 * - This process's own store, update and delete of an id drop its entry when they start and
 *   again when they end, successful or not. A get that was already at the provider when such a
 *   write ended does not put what it read into the cache: it may have read the old value.
 *   Another process's writes become visible once the entry expires.
 * - A not-found answer is cached only with `cacheNotFound`; other errors never are.
 * - With `staleIfErrorMs`, values are kept `ttlMs + staleIfErrorMs` after they were read, but
 *   `lookup` serves them within `ttlMs` only; beyond it, only `lookupStale` hands them out, which
 *   the facade asks when the provider is unavailable (RFC 5861's stale-if-error). An entry beyond
 *   that window is dropped when either looks it up (or pushed out by newer ones). A write of this
 *   process drops the entry as before, so a stale answer is never older than our own last write.
 */
import { createRequire } from "node:module";
import type { LRUCache } from "lru-cache";
import type { SecretValues } from "./contract.js";

/**
 * lru-cache, loaded when the first cache is made rather than at import: most stores run without
 * the cache, and a process that never turns it on should not pay for loading it (issue 13, cold
 * start). `require` keeps the constructor synchronous; lru-cache ships a CommonJS build.
 */
function loadLruCache(): typeof LRUCache {
  return (createRequire(import.meta.url)("lru-cache") as typeof import("lru-cache")).LRUCache;
}

export interface CacheOptions {
  /** Milliseconds a value read from the provider is served from memory. */
  ttlMs: number;
  /**
   * Entries kept at most; the least recently used go first.
   * @default 1000
   */
  maxEntries?: number;
  /**
   * Cache "not found" answers too (for `ttlMs`, or until this process stores the id).
   * @default false
   */
  cacheNotFound?: boolean;
  /**
   * Milliseconds beyond `ttlMs` an entry is kept to answer a get whose provider is unavailable
   * (`E_PROVIDER_UNAVAILABLE`, and nothing else); 0 turns that off.
   * @default 0
   */
  staleIfErrorMs?: number;
}

export type ResolvedCacheOptions = Required<CacheOptions>;

export const DEFAULT_CACHE_MAX_ENTRIES = 1_000;

/** What the cache holds for one id: its values (frozen), or the fact that it was not found. */
export type CachedRead = { readonly values: Readonly<SecretValues> } | { readonly notFound: true };

const NOT_FOUND: CachedRead = Object.freeze({ notFound: true as const });

export interface ReadCacheClock {
  now(): number;
}

export class ReadCache {
  readonly options: ResolvedCacheOptions;
  readonly #entries: LRUCache<string, CachedRead>;
  /** A counter that orders reads and invalidations. */
  #clock = 0;
  /** Per id: how many gets are at the provider now, and when it was last invalidated meanwhile. */
  readonly #reads = new Map<string, { inFlight: number; invalidatedAt: number }>();

  /** `clock` is for tests: a clock other than `performance`, read on every lookup. */
  constructor(options: CacheOptions, clock?: ReadCacheClock) {
    this.options = {
      ttlMs: options.ttlMs,
      maxEntries: options.maxEntries ?? DEFAULT_CACHE_MAX_ENTRIES,
      cacheNotFound: options.cacheNotFound ?? false,
      staleIfErrorMs: options.staleIfErrorMs ?? 0,
    };
    const LruCache = loadLruCache();
    this.#entries = new LruCache<string, CachedRead>({
      max: this.options.maxEntries,
      ttl: this.options.ttlMs,
      // With stale-if-error an expired entry stays for `lookupStale`, which drops it beyond the window.
      noDeleteOnStaleGet: this.options.staleIfErrorMs > 0,
      // No timers per entry: expired entries are dropped when looked up, or pushed out by newer ones.
      ttlAutopurge: false,
      updateAgeOnGet: false,
      ...(clock ? { perf: clock, ttlResolution: 0 } : {}),
    });
  }

  /** The cached answer for an id, or undefined. Values are the frozen originals: copy before handing out. */
  lookup(id: string): CachedRead | undefined {
    const read = this.#entries.get(id);
    // A miss leads to a read from the provider anyway; an entry beyond the stale window goes now.
    if (read === undefined && this.options.staleIfErrorMs > 0) this.#dropBeyondStaleWindow(id);
    return read;
  }

  /**
   * The values read for an id less than `ttlMs + staleIfErrorMs` ago, expired or not: for a get
   * whose provider is unavailable. Never a not-found answer (that is no value to fall back on).
   */
  lookupStale(id: string): Readonly<SecretValues> | undefined {
    if (this.options.staleIfErrorMs === 0 || this.#dropBeyondStaleWindow(id)) return undefined;
    const read = this.#entries.get(id, { allowStale: true });
    return read !== undefined && "values" in read ? read.values : undefined;
  }

  /** Drops the id's entry if it expired more than `staleIfErrorMs` ago; says whether it did. */
  #dropBeyondStaleWindow(id: string): boolean {
    // Remaining TTL is negative once expired (lru-cache's clock; 0 for an absent id).
    if (this.#entries.getRemainingTTL(id) >= -this.options.staleIfErrorMs) return false;
    this.#entries.delete(id);
    return true;
  }

  /**
   * Marks the start of a get that goes to the provider. Pass the ticket to `completeRead` (with
   * what was read) or `abandonRead` (on any other outcome).
   */
  beginRead(id: string): number {
    const reads = this.#reads.get(id);
    if (reads) reads.inFlight += 1;
    else this.#reads.set(id, { inFlight: 1, invalidatedAt: 0 });
    this.#clock += 1;
    return this.#clock;
  }

  /** Ends a get with values read from the provider; caches a frozen copy unless a write invalidated the id meanwhile. */
  completeRead(id: string, ticket: number, values: SecretValues): void {
    if (this.#endRead(id, ticket)) {
      this.#entries.set(id, { values: Object.freeze({ ...values }) });
    }
  }

  /** Ends a get that found nothing; caches that only with `cacheNotFound`. */
  completeNotFound(id: string, ticket: number): void {
    if (this.#endRead(id, ticket) && this.options.cacheNotFound) {
      // Kept past ttlMs like any entry with stale-if-error, but `lookupStale` never serves it.
      this.#entries.set(id, NOT_FOUND);
    }
  }

  /** Ends a get that failed otherwise; nothing is cached. */
  abandonRead(id: string, ticket: number): void {
    this.#endRead(id, ticket);
  }

  /** Drops an id's entry, and keeps gets already at the provider from caching what they read. */
  invalidate(id: string): void {
    this.#entries.delete(id);
    const reads = this.#reads.get(id);
    if (reads) {
      this.#clock += 1;
      reads.invalidatedAt = this.#clock;
    }
  }

  clear(): void {
    this.#entries.clear();
    this.#reads.clear();
  }

  get size(): number {
    return this.#entries.size;
  }

  /** True if the read's result may be cached: no invalidation of the id since it began. */
  #endRead(id: string, ticket: number): boolean {
    const reads = this.#reads.get(id);
    if (!reads) return false; // cleared meanwhile
    const current = reads.invalidatedAt < ticket;
    reads.inFlight -= 1;
    if (reads.inFlight === 0) this.#reads.delete(id);
    return current;
  }
}
