/**
 * The opt-in read cache of a `SecretStore`: gets within `ttlMs` are answered from this
 * process's memory. It sits in the facade, so every provider has it.
 *
 * - Entries are least-recently-used beyond `maxEntries` and expire `ttlMs` after they were read
 *   from the provider. A `Map` keeps them in order of use (a hit moves its entry to the end), so
 *   the oldest is the first key; no package is needed for that, and none is loaded at startup.
 * - Values are kept frozen and handed out as fresh copies, so nothing a caller does to a map it
 *   got changes the cache.
 * - This process's own store, update and delete of an id drop its entry when they start and
 *   again when they end, successful or not. A get that was already at the provider when such a
 *   write ended does not put what it read into the cache: it may have read the old value.
 *   Another process's writes become visible once the entry expires.
 * - A not-found answer is cached only with `cacheNotFound`; other errors never are.
 */
import type { SecretValues } from "./contract.js";

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
  /** In order of use, least recent first. */
  readonly #entries = new Map<string, { readonly read: CachedRead; readonly expiresAt: number }>();
  readonly #now: () => number;
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
    };
    // No timers per entry: expired entries are dropped when looked up, or pushed out by newer ones.
    this.#now = clock ? () => clock.now() : () => performance.now();
  }

  /** The cached answer for an id, or undefined. Values are the frozen originals: copy before handing out. */
  lookup(id: string): CachedRead | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    this.#entries.delete(id);
    if (this.#now() > entry.expiresAt) return undefined;
    // Re-inserted: the most recently used entry goes last.
    this.#entries.set(id, entry);
    return entry.read;
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
    if (this.#endRead(id, ticket)) this.#put(id, { values: Object.freeze({ ...values }) });
  }

  /** Ends a get that found nothing; caches that only with `cacheNotFound`. */
  completeNotFound(id: string, ticket: number): void {
    if (this.#endRead(id, ticket) && this.options.cacheNotFound) this.#put(id, NOT_FOUND);
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

  #put(id: string, read: CachedRead): void {
    this.#entries.delete(id);
    this.#entries.set(id, { read, expiresAt: this.#now() + this.options.ttlMs });
    if (this.#entries.size > this.options.maxEntries) {
      // The first key is the least recently used.
      this.#entries.delete(this.#entries.keys().next().value as string);
    }
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
