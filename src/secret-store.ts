import { debuglog, inspect, isDeepStrictEqual } from "node:util";
import { circuitBreakerOf, createAdapterFromConfig, type StoreOptions } from "./adapter-factory.js";
import { isAfterPrimaryNotFound } from "./backup-adapter.js";
import type { CircuitBreaker } from "./circuit-breaker.js";
import { forEachConcurrently } from "./concurrency.js";
import {
  type ConfigSources,
  comparableLocation,
  configFromSources,
  type OmnisecretConfig,
  type ResolvedConfig,
  redactConfig,
  resolveCacheOptions,
} from "./config.js";
import type {
  AnySecretsAdapter,
  CallOptions,
  ReadOptions,
  ResolvedCapabilities,
  SecretRead,
  SecretsAdapter,
  SecretValues,
  SecretVersion,
} from "./contract.js";
import { untilAborted } from "./deadline.js";
import {
  InvalidVersionError,
  isSecretStoreError,
  OperationNotSupportedError,
  SecretChangedError,
  SecretNotFoundError,
  SecretStoreError,
} from "./errors.js";
import { MAX_VERSION_TOKEN_LENGTH } from "./kit/version-token.js";
import { callOptions, contractAdapter, DEFAULT_MAX_VALUE_BYTES, resolveCapabilities } from "./legacy-adapter.js";
import { type CacheOptions, ReadCache, type ResolvedCacheOptions } from "./read-cache.js";
import type { ProviderDefinition } from "./registry.js";
import type { CacheCounts, StoreTelemetry, TelemetryOptions, TracedOperation } from "./telemetry.js";
import { type AnswerSource, reportCircuitState } from "./telemetry-hooks.js";
import {
  canonicalSecretId,
  checkStoredValues,
  copyValidSecretValues,
  isCanonicalSecretId,
  serializeWithinLimit,
} from "./validation.js";
import { type SecretChange, type WatchOptions, watchSecrets, watchSettings } from "./watch.js";
import { type Operation, redactValues, wrapUnknown } from "./wrap-unknown.js";

export { createAdapterFromConfig, DEFAULT_MAX_VALUE_BYTES, redactValues, type StoreOptions };

/** What `getManySecretValues` gives for one id: its values, or the typed error a get of it would throw. */
export type SecretReadResult = { readonly values: SecretValues } | { readonly error: SecretStoreError };

/** The options of `getSecretValues`: a `ReadOptions`, and `fresh`. */
export interface GetOptions extends ReadOptions {
  /**
   * Skip the read cache's entry and read the provider (Powertools' `forceFetch`); what is read
   * still refreshes the entry. If the provider is unavailable and `cache.staleIfErrorMs` is set,
   * the entry still answers within its stale window: the configured fallback applies to every get
   * (a caller who must never see a stale value uses a store without `staleIfErrorMs`). A
   * `version` other than `"latest"` always reads the provider, with or without it.
   * @default false
   */
  readonly fresh?: boolean | undefined;
}

/**
 * Where a read's answer came from, for its span: the provider, the backup store's backup, or the
 * read cache's expired entry because they were unavailable (`cache.staleIfErrorMs`).
 */
interface ReadOutcome {
  source?: AnswerSource;
}

export interface GetManyOptions extends CallOptions {
  /**
   * Skip the read cache's entries and read the provider, refreshing them, as `getSecretValues`'s
   * `fresh` does (stale-if-error applying the same way).
   * @default false
   */
  fresh?: boolean;
  /**
   * How many reads are at the provider at once (batches, where the adapter has a batch call).
   * @default 8
   */
  concurrency?: number;
  /**
   * What a missing id does: `"throw"` rejects the whole call with its `SecretNotFoundError` (the
   * first missing id in the order given), as `getSecretValues` would; `"skip"` leaves it out of
   * the result. Other failures never reject the call: they are that id's result.
   * @default "throw"
   */
  onMissing?: "throw" | "skip";
}

export interface DeleteOptions extends CallOptions {
  /**
   * Delete only if the secret still holds exactly these values; otherwise `SecretChangedError`
   * (`E_SECRET_CHANGED`) and nothing is deleted. Atomic where the adapter has
   * `capabilities.conditionalDelete` (vault, local, memory); elsewhere a read, a comparison and
   * a delete, so a write by someone else in the one round trip between them is deleted too.
   */
  expectedValues?: SecretValues;
}

/**
 * Where a store keeps its secrets, for the refusals of `copySecrets`: the same place twice, or
 * deleting sources into a store that dies with the process. Kept beside the store, not on it, so
 * the public API does not grow a field nobody else needs.
 */
export interface StorePlace {
  /**
   * One comparable key per side the store writes (the primary, and the backup if it has one):
   * provider, location and namespace (prefix and owner). Absent for a side that is a place of its
   * own (a memory store, an adapter given in code). Worked out when first asked for, not when the
   * store is made: a location may need I/O (the local store resolves its file's real path).
   */
  keys(): Promise<readonly string[]>;
  /** The adapter objects behind the store: one given twice is the same store, whatever its config says. */
  readonly adapters: readonly AnySecretsAdapter[];
  /** Whether the primary outlives the process (`false` for the memory store). */
  readonly durable: boolean;
  readonly provider: string;
}

const storePlaces = new WeakMap<SecretStore, StorePlace>();

const storeBreakers = new WeakMap<SecretStore, readonly CircuitBreaker[]>();

/**
 * The circuit breakers of a store made from a config (the primary's, then the backup's), for
 * telemetry: each has a `state` getter and `onStateChange`. Empty without `circuitBreaker`.
 */
export function circuitBreakersOf(store: SecretStore): readonly CircuitBreaker[] {
  return storeBreakers.get(store) ?? [];
}

/** The place of a store made by this module (`undefined` for anything else). */
export function placeOfStore(store: SecretStore): StorePlace | undefined {
  return storePlaces.get(store);
}

async function placeKey(definition: ProviderDefinition, config: ResolvedConfig): Promise<string | undefined> {
  const location = await comparableLocation(definition, config);
  return location === undefined ? undefined : JSON.stringify([location, config.prefix, config.owner ?? null]);
}

// NODE_DEBUG=omnisecret shows operations and ids; never values, never credentials.
const debug = debuglog("omnisecret");

type TelemetryModule = typeof import("./telemetry.js");
let telemetryModule: TelemetryModule | undefined;
let loadingTelemetry: Promise<TelemetryModule | undefined> | undefined;

/**
 * `src/telemetry.ts` and `@opentelemetry/api` (an optional peer), imported once per process, by
 * the first store with telemetry enabled that finds an OpenTelemetry SDK registered (at create,
 * or at an operation once one is), never at `import("omnisecret")`: a process without the api,
 * without an SDK, or with telemetry off, loads none of it. Any failure to load means no telemetry.
 */
function loadTelemetry(): Promise<TelemetryModule | undefined> {
  loadingTelemetry ??= import("./telemetry.js").then(
    (loaded) => {
      telemetryModule = loaded;
      return loaded;
    },
    (error: unknown) => {
      debug("telemetry off: @opentelemetry/api could not be loaded (%s)", (error as { code?: unknown })?.code);
      return undefined;
    },
  );
  return loadingTelemetry;
}

const telemetryWanted = (options: TelemetryOptions | undefined): boolean => options?.enabled !== false;

/**
 * Where every copy of `@opentelemetry/api` 1.x keeps what is registered (its global registry, by
 * which separate copies of the api interoperate). Read without loading the api: with nothing
 * registered there is nobody to report to, and loading it would cost every process that has it
 * installed 45 more files at startup (a process creating a local store: x1.12 wall, +7 ms median).
 */
const OTEL_GLOBAL = Symbol.for("opentelemetry.js.api.1");

/** Whether a tracer or meter provider (an SDK) is registered with the OpenTelemetry api. */
function sdkRegistered(): boolean {
  const registry = (globalThis as { [OTEL_GLOBAL]?: { trace?: unknown; metrics?: unknown } })[OTEL_GLOBAL];
  return registry !== undefined && (registry.trace !== undefined || registry.metrics !== undefined);
}

/** The span operation of a facade operation. */
const TRACED: Readonly<Partial<Record<Operation, TracedOperation>>> = {
  store: "store",
  get: "get",
  update: "update",
  delete: "delete",
  "list versions of": "list_versions",
  "get revision of": "get_revision",
};

/** The `omnisecret.circuit.state` gauge's number for a breaker's state. */
const CIRCUIT_GAUGE = { closed: 0, "half-open": 1, open: 2 } as const;

/**
 * Where a get's answer came from, for its span and duration metric: a backup's read is the one
 * not to cache; a read through the cache says so itself (`#readThrough`: "stale_cache" when the
 * expired entry answered for an unavailable provider).
 */
function readSource(read: unknown): AnswerSource {
  const answer = read as { source?: AnswerSource; cacheable?: boolean } | undefined;
  return answer?.source ?? (answer?.cacheable === false ? "backup" : "provider");
}

/**
 * The one API an application uses: store, get, update and delete a secret's values by its UUID,
 * whichever provider the configuration selects.
 *
 * Input is validated here, once, before any adapter call: a bad id, bad values or values over
 * the provider's size limit are rejected with a typed error and nothing stored changes.
 *
 * With `cache` in the config, gets are answered from memory for `ttlMs` (see `read-cache.ts`).
 *
 * Every operation takes an optional `signal` (`CallOptions`): once it aborts, the operation
 * rejects with `signal.reason` as it is, as `fetch` does; a write aborted in flight may still
 * have been made.
 */
export class SecretStore {
  readonly provider: string;
  readonly prefix: string;
  readonly #adapter: SecretsAdapter;
  readonly #config: Record<string, unknown>;
  readonly #cache: ReadCache | undefined;
  readonly #can: ResolvedCapabilities;
  /** Set once `@opentelemetry/api` has loaded and an SDK is registered. */
  #telemetry: StoreTelemetry | undefined;
  /** Telemetry enabled but not started: no SDK registered yet, or the api still loading. */
  #pendingTelemetry: TelemetryOptions | undefined;
  #telemetryLoading = false;
  /** The read cache's hits and misses, reported by telemetry's callback (plain integers: a hit costs an increment). */
  #cacheCounts: CacheCounts = { hits: 0, misses: 0 };
  /** Stops the circuit-state gauge reporting this store's breakers (on close). */
  #unreportCircuits: (() => void) | undefined;
  #closed = false;
  /** Aborted by `close()`: ends every watch of this store. */
  readonly #closing = new AbortController();

  private constructor(
    adapter: SecretsAdapter,
    provider: string,
    prefix: string,
    config: Record<string, unknown>,
    cache: ResolvedCacheOptions | undefined,
    telemetry: TelemetryOptions | undefined,
  ) {
    this.#adapter = adapter;
    this.provider = provider;
    this.prefix = prefix;
    this.#config = config;
    this.#cache = cache ? new ReadCache(cache) : undefined;
    this.#can = resolveCapabilities(adapter.capabilities);
    this.#pendingTelemetry = telemetry;
    this.#tracing();
  }

  /**
   * The store's telemetry, if it is on; starts it when an SDK has been registered since (at once
   * if the api is loaded, else from when its import ends: the operations meanwhile are not traced).
   * While none is, one global lookup per operation.
   */
  #tracing(): StoreTelemetry | undefined {
    const pending = this.#pendingTelemetry;
    if (pending === undefined || !sdkRegistered()) return this.#telemetry;
    if (telemetryModule !== undefined) {
      this.#pendingTelemetry = undefined;
      this.#telemetry = new telemetryModule.StoreTelemetry(this.provider, pending);
      this.#cacheCounts = this.#telemetry.cache;
    } else if (!this.#telemetryLoading) {
      this.#telemetryLoading = true;
      void loadTelemetry().then((loaded) => {
        if (loaded === undefined) this.#pendingTelemetry = undefined;
        else if (!this.#closed) this.#tracing();
      });
    }
    return this.#telemetry;
  }

  /** Validates `config` (a `ConfigError` names the field at fault), loads the provider's adapter and builds the store. */
  static async create(
    config: OmnisecretConfig | Record<string, unknown> = {},
    options: StoreOptions = {},
  ): Promise<SecretStore> {
    // With an SDK registered, the api is loaded beside the adapter (cold start), so the store's
    // first operation is traced; the config decides whether it is used.
    const given = (config as { telemetry?: TelemetryOptions }).telemetry;
    const loading = telemetryWanted(given) && sdkRegistered() ? loadTelemetry() : undefined;
    const { adapter, config: resolved, sides } = await createAdapterFromConfig(config, options);
    debug("created %s store with prefix %s", resolved.provider, resolved.prefix);
    const wanted = telemetryWanted(resolved.telemetry);
    if (wanted) await loading;
    const store = new SecretStore(
      adapter,
      adapter.provider ?? resolved.provider,
      resolved.prefix,
      resolved,
      resolved.cache,
      wanted ? (resolved.telemetry ?? {}) : undefined,
    );
    let keys: Promise<readonly string[]> | undefined;
    storePlaces.set(store, {
      keys: () => {
        keys ??= Promise.all(sides.map((side) => placeKey(side.definition, side.config))).then((all) =>
          all.filter((key) => key !== undefined),
        );
        return keys;
      },
      adapters: [adapter, ...sides.map((side) => side.adapter)],
      durable: sides[0]?.definition.durable !== false,
      provider: store.provider,
    });
    const breakers = sides.map((side) => circuitBreakerOf(side.adapter)).filter((breaker) => breaker !== undefined);
    if (breakers.length > 0) {
      storeBreakers.set(store, breakers);
      store.#unreportCircuits = reportCircuitState(() =>
        breakers.map(({ provider, side, state }) => ({ provider, side, state: CIRCUIT_GAUGE[state] })),
      );
    }
    return store;
  }

  /** Builds the store from `OMNISECRET_*` variables and the provider's standard ones; see the README's configuration table. */
  static async fromEnv(env: NodeJS.ProcessEnv = process.env, options: StoreOptions = {}): Promise<SecretStore> {
    return SecretStore.create(configFromSources({ env }), options);
  }

  /** Builds the store from a config file, the environment and overrides, as the CLI does. */
  static async fromSources(sources: ConfigSources, options: StoreOptions = {}): Promise<SecretStore> {
    return SecretStore.create(configFromSources(sources), options);
  }

  /**
   * Puts an adapter you built yourself behind the facade, with the same validation (and the read
   * cache if `cache` is given). An adapter of the earlier contract (no `capabilities`) is adapted.
   */
  static fromAdapter(
    given: AnySecretsAdapter,
    options: {
      provider?: string;
      prefix?: string;
      cache?: CacheOptions | undefined;
      /** As the config field: on when `@opentelemetry/api` is installed and an SDK registered, from when the api has loaded. */
      telemetry?: TelemetryOptions | undefined;
    } = {},
  ): SecretStore {
    const adapter = contractAdapter(given);
    const provider = adapter.provider ?? options.provider ?? "custom";
    const cache = resolveCacheOptions(options.cache, provider);
    const store = new SecretStore(
      adapter,
      provider,
      options.prefix ?? "",
      { provider, ...(cache ? { cache } : {}) },
      cache,
      // Synchronous: traced at once if another store loaded the api, else from when it has loaded.
      telemetryWanted(options.telemetry) ? (options.telemetry ?? {}) : undefined,
    );
    // Whether such an adapter outlives the process is not known: it is taken to, as a custom adapter would.
    storePlaces.set(store, { keys: async () => [], adapters: [adapter, given], durable: true, provider });
    return store;
  }

  /** The largest `JSON.stringify(values)`, in UTF-8 bytes, this store accepts. */
  get maxValueBytes(): number {
    return this.#can.maxValueBytes;
  }

  /** Stores a new secret. Throws `SecretAlreadyExistsError` if the id exists; the stored values then stay as they were. */
  async storeSecretValues(id: string, values: SecretValues, options?: CallOptions): Promise<void> {
    const secretId = this.#validId(id, options?.signal);
    const copy = copyValidSecretValues(values, secretId, this.provider);
    const serialized = serializeWithinLimit(copy, secretId, this.#can.maxValueBytes, this.provider);
    const call = callOptions(options?.signal);
    await this.#write(
      "store",
      secretId,
      call,
      () => this.#adapter.storeSecretValues(secretId, copy, serialized, call),
      copy,
    );
  }

  /**
   * Returns a fresh copy of the secret's values. Throws `SecretNotFoundError` if it is missing.
   * With the read cache on, a value read within `ttlMs` comes from memory.
   *
   * `version` (default `"latest"`): `"previous"` reads the version made current just before the
   * latest one, a token (from `listSecretVersions`) that version. Both need an adapter that keeps
   * versions (else `OperationNotSupportedError`), and a version beyond the provider's
   * `keepVersions`, or of a deleted secret, is `SecretNotFoundError` saying so. A token that
   * cannot be one of this provider's is `InvalidVersionError`, before any request. Such reads
   * always go to the provider: the read cache holds only the latest values.
   */
  // Not async: a promise fewer per get (a cached get is a few hundred nanoseconds); both branches reject, never throw.
  getSecretValues(id: string, options?: GetOptions): Promise<SecretValues> {
    const version = options?.version;
    if (version !== undefined && version !== "latest") return this.#getVersion(id, version, options?.signal);
    return this.#getLatest(id, options);
  }

  /**
   * A get of the latest values: the read cache (unless `fresh`), then the adapter (the primary,
   * then the backup store's backup), then, if that is unavailable, the cache's stale entry.
   */
  async #getLatest(id: string, options: GetOptions | undefined): Promise<SecretValues> {
    const secretId = this.#validId(id, options?.signal);
    const cache = this.#cache;
    const call = callOptions(options?.signal);
    if (cache === undefined) {
      const read = await this.#call("get", secretId, call, () => this.#adapter.getSecretValues(secretId, call));
      return checkStoredValues(read.values, secretId, this.provider);
    }
    const hit = options?.fresh === true ? undefined : this.#cachedResult(cache, secretId);
    if (hit !== undefined) {
      this.#cacheCounts.hits += 1;
      if ("values" in hit) return hit.values;
      throw hit.error;
    }
    this.#cacheCounts.misses += 1;
    // Traced as a whole: the stale entry's answer comes after the adapter failed, and the span
    // says where the answer came from.
    const read = await this.#traced("get", secretId, () => this.#readThrough(cache, secretId, call), readSource);
    return read.values;
  }

  /** A get that goes to the adapter, settled with the read cache (see `#settleRead`); says where its answer came from. */
  async #readThrough(
    cache: ReadCache,
    secretId: string,
    call: CallOptions,
  ): Promise<{ values: SecretValues; source: AnswerSource }> {
    const ticket = cache.beginRead(secretId);
    let answer: SecretRead | undefined;
    let result: SecretReadResult;
    try {
      answer = await this.#callAdapter(
        "get",
        secretId,
        call,
        () => this.#adapter.getSecretValues(secretId, call),
        undefined,
      );
      result = { values: checkStoredValues(answer.values, secretId, this.provider) };
    } catch (error) {
      if (!isSecretStoreError(error)) {
        // The caller's abort reason, thrown as it is.
        cache.abandonRead(secretId, ticket);
        throw error;
      }
      result = { error };
    }
    const outcome: ReadOutcome = {};
    result = this.#settleRead(cache, secretId, ticket, result, answer, outcome);
    if ("error" in result) throw result.error;
    return { values: result.values, source: outcome.source ?? "provider" };
  }

  /**
   * A get of another version than the latest: checked (the adapter keeps versions, the token has
   * its shape), then read from the provider past the read cache, whose entries are the latest
   * values only, so a "previous" is never served stale after an update.
   */
  async #getVersion(id: string, version: string, signal: AbortSignal | undefined): Promise<SecretValues> {
    const secretId = this.#validId(id, signal);
    this.#checkVersion(secretId, version);
    const call: ReadOptions = signal === undefined ? { version } : { signal, version };
    const read = await this.#call("get", secretId, call, () => this.#adapter.getSecretValues(secretId, call));
    return checkStoredValues(read.values, secretId, this.provider);
  }

  /** Refuses a version this store cannot read: not a string, empty, too long, or not the adapter's shape; or no versions at all. */
  #checkVersion(secretId: string, version: unknown): void {
    if (typeof version !== "string") {
      throw new InvalidVersionError(secretId, `must be a string (got ${typeof version})`, { provider: this.provider });
    }
    if (version.length === 0 || version.length > MAX_VERSION_TOKEN_LENGTH) {
      const reason = version.length === 0 ? "is empty" : `is longer than ${MAX_VERSION_TOKEN_LENGTH} characters`;
      throw new InvalidVersionError(secretId, reason, { provider: this.provider });
    }
    this.#assertVersions();
    if (version !== "previous" && this.#adapter.isVersionToken?.(version) !== true) {
      throw new InvalidVersionError(
        secretId,
        `is not "latest", "previous" or a version token of provider ${this.provider}`,
        { provider: this.provider },
      );
    }
  }

  #assertVersions(): void {
    if (!this.#can.versions) {
      throw new OperationNotSupportedError(`versions (provider ${this.provider} keeps none through omnisecret)`, {
        provider: this.provider,
      });
    }
  }

  /**
   * The secret's versions, newest first: the current one first, then the earlier ones the
   * provider still lists, each with its token (for `getSecretValues(id, { version: token })`),
   * creation time and whether it is readable (false for one pruned beyond `keepVersions` that the
   * provider still lists). Throws `SecretNotFoundError` if the secret is missing, and
   * `OperationNotSupportedError` if the adapter keeps no versions.
   */
  async listSecretVersions(id: string, options?: CallOptions): Promise<SecretVersion[]> {
    const secretId = this.#validId(id, options?.signal);
    this.#assertVersions();
    const adapter = this.#adapter;
    const call = callOptions(options?.signal);
    const versions = await this.#call("list versions of", secretId, call, async () => {
      if (adapter.listSecretVersions === undefined) throw new Error("the adapter has no listSecretVersions");
      return adapter.listSecretVersions(secretId, call);
    });
    // Fresh objects the caller may keep or change; the adapter's own stay its own.
    return versions.map(({ token, createdAt, current, readable }) => ({
      token,
      createdAt: new Date(createdAt),
      current,
      readable,
    }));
  }

  /**
   * Makes the previous values current again: reads the `"previous"` version and updates the
   * secret with those values. Named after the other `...SecretValues` methods because that is
   * what it is, an update whose values come from the version before: the rollback is itself a
   * new version, so "previous" afterwards holds the values it replaced and a second rollback
   * undoes the first. Needs a `keepVersions` of at least 2 (else there is no previous version to
   * read: `SecretNotFoundError`, and nothing changes).
   *
   * Two requests, not one atomic step. A write by another process between them (an update, or
   * another rollback) is replaced by the values read, as by any later update (the last write
   * wins, and the replaced values become "previous"); two racing rollbacks both make the same
   * values current, so "previous" then holds those values too and the version before them is
   * reachable only by its token, while the provider keeps it. The read cache's entry goes as for
   * an update.
   */
  async rollbackSecretValues(id: string, options?: CallOptions): Promise<void> {
    const signal = options?.signal;
    const rollback = async () => {
      const previous = await this.#getVersion(id, "previous", signal);
      await this.updateSecretValues(id, previous, signal === undefined ? undefined : { signal });
    };
    const telemetry = this.#tracing();
    // Its get and update are spans of their own, under this one.
    if (telemetry === undefined) return rollback();
    return telemetry.run("rollback", this.#validId(id, signal), rollback);
  }

  /** The read cache's answer for `id`, if it has one: a copy of the values, or not found. */
  #cachedResult(cache: ReadCache, id: string): SecretReadResult | undefined {
    const cached = cache.lookup(id);
    if (cached === undefined) return undefined;
    if ("values" in cached) return { values: { ...cached.values } };
    return { error: new SecretNotFoundError(id, { provider: this.provider }) };
  }

  /**
   * Ends a read that went to the provider with ticket `ticket`, for a get and a batch read alike:
   * values are cached (unless the adapter read them with `cacheable: false`: a backup's) and handed
   * out as a copy, a not-found is cached as `cacheNotFound` says, and any other outcome (an
   * integrity error included) only ends the ticket. An unavailable provider (and backup) is
   * answered from the stale entry where `staleIfErrorMs` keeps one; no other error is.
   */
  #settleRead(
    cache: ReadCache,
    id: string,
    ticket: number,
    result: SecretReadResult,
    answer: SecretRead | undefined,
    outcome?: ReadOutcome,
  ): SecretReadResult {
    if ("values" in result) {
      if (outcome) outcome.source = answer?.cacheable === false ? "backup" : "provider";
      if (answer?.cacheable === false) {
        cache.abandonRead(id, ticket);
        return result;
      }
      cache.completeRead(id, ticket, result.values);
      return { values: { ...result.values } };
    }
    if (result.error.code === "E_SECRET_NOT_FOUND") {
      cache.completeNotFound(id, ticket);
      return result;
    }
    cache.abandonRead(id, ticket);
    if (result.error.code !== "E_PROVIDER_UNAVAILABLE" || isAfterPrimaryNotFound(result.error)) return result;
    // Looked up after the ticket ended: a write of this process meanwhile has dropped the entry.
    const stale = cache.lookupStale(id);
    if (stale === undefined) return result;
    if (debug.enabled)
      debug("%s get secret %s: provider unavailable, answered from the stale cache entry", this.provider, id);
    if (outcome) outcome.source = "stale_cache";
    return { values: { ...stale } };
  }

  /**
   * Reads several secrets: a `Map` from each (canonical) id, in the order given, to its values or
   * the typed error a get of it would have thrown. Ids are all validated first (a bad one
   * rejects the call before any request). The read cache is honoured as by `getSecretValues`;
   * at most `concurrency` reads (or batches) are at the provider at once.
   */
  async getManySecretValues(
    ids: Iterable<string>,
    options: GetManyOptions = {},
  ): Promise<Map<string, SecretReadResult>> {
    const concurrency = options.concurrency ?? 8;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new SecretStoreError("E_CONFIG", "getManySecretValues: concurrency must be a positive integer", {
        provider: this.provider,
      });
    }
    const signal = options.signal;
    const secretIds = [...new Set([...ids].map((id) => this.#validId(id, signal)))];
    const results = new Map<string, SecretReadResult>(secretIds.map((id) => [id, { values: {} }]));
    const batchRead = this.#can.batchGet ? this.#adapter.getManySecretValues?.bind(this.#adapter) : undefined;
    const call = callOptions(signal);
    const fresh = options.fresh === true;
    if (batchRead === undefined) {
      const getOptions: GetOptions = fresh ? { ...call, fresh } : call;
      await forEachConcurrently(secretIds, concurrency, async (id) => {
        results.set(
          id,
          await this.#getLatest(id, getOptions).then(
            (values) => ({ values }),
            (error: unknown) => {
              // An abort rejects the whole call (with its reason); every other failure is the id's result.
              if (!isSecretStoreError(error)) throw error;
              return { error };
            },
          ),
        );
      });
    } else {
      const size = this.#can.maxBatchSize;
      const batches: string[][] = [];
      for (let start = 0; start < secretIds.length; start += size) batches.push(secretIds.slice(start, start + size));
      await forEachConcurrently(batches, concurrency, async (batch) => {
        for (const [id, result] of await this.#readBatch(batch, batchRead, call, fresh)) results.set(id, result);
      });
    }
    if ((options.onMissing ?? "throw") === "throw") {
      for (const result of results.values())
        if ("error" in result && result.error.code === "E_SECRET_NOT_FOUND") throw result.error;
    } else {
      for (const [id, result] of results)
        if ("error" in result && result.error.code === "E_SECRET_NOT_FOUND") results.delete(id);
    }
    return results;
  }

  /** One batch through the adapter's batch call, with the same cache bookkeeping as a get. */
  async #readBatch(
    ids: readonly string[],
    batchRead: (ids: readonly string[], options: CallOptions) => Promise<ReadonlyMap<string, SecretRead | Error>>,
    call: CallOptions,
    fresh: boolean,
  ): Promise<Map<string, SecretReadResult>> {
    const results = new Map<string, SecretReadResult>();
    const cache = this.#cache;
    const pending: { id: string; ticket: number | undefined }[] = [];
    for (const id of ids) {
      const hit = cache && !fresh ? this.#cachedResult(cache, id) : undefined;
      if (hit === undefined) {
        if (cache) this.#cacheCounts.misses += 1;
        pending.push({ id, ticket: cache?.beginRead(id) });
      } else {
        this.#cacheCounts.hits += 1;
        results.set(id, hit);
      }
    }
    if (pending.length === 0) return results;
    debug("%s get batch of %d secrets", this.provider, pending.length);
    let answers: ReadonlyMap<string, SecretRead | Error> | undefined;
    let failure: SecretStoreError | undefined;
    const pendingIds = pending.map(({ id }) => id);
    const read = () => untilAborted(batchRead(pendingIds, call), call.signal);
    const telemetry = this.#tracing();
    try {
      // One span per batch; the ids' own failures are their results, not the span's.
      answers = await (telemetry === undefined ? read() : telemetry.run("get_many", pendingIds, read));
    } catch (error) {
      if (call.signal?.aborted) {
        if (cache) for (const { id, ticket } of pending) if (ticket !== undefined) cache.abandonRead(id, ticket);
        throw call.signal.reason;
      }
      failure = wrapUnknown(error, this.provider, "get");
    }
    for (const { id, ticket } of pending) {
      const answer = answers?.get(id);
      let result: SecretReadResult;
      if (failure) result = { error: failure };
      else if (answer === undefined) {
        result = {
          error: new SecretStoreError("E_UNKNOWN", `the batch read returned nothing for secret ${id}`, {
            provider: this.provider,
            secretId: id,
          }),
        };
      } else if (answer instanceof Error) result = { error: wrapUnknown(answer, this.provider, "get", id) };
      else {
        try {
          result = { values: checkStoredValues(answer.values, id, this.provider) };
        } catch (error) {
          result = { error: error as SecretStoreError };
        }
      }
      if (cache && ticket !== undefined) {
        result = this.#settleRead(cache, id, ticket, result, answer instanceof Error ? undefined : answer);
      }
      results.set(id, result);
    }
    return results;
  }

  /** Replaces the whole map of an existing secret. Throws `SecretNotFoundError` if it is missing; it never creates. */
  async updateSecretValues(id: string, values: SecretValues, options?: CallOptions): Promise<void> {
    const secretId = this.#validId(id, options?.signal);
    const copy = copyValidSecretValues(values, secretId, this.provider);
    const serialized = serializeWithinLimit(copy, secretId, this.#can.maxValueBytes, this.provider);
    const call = callOptions(options?.signal);
    await this.#write(
      "update",
      secretId,
      call,
      () => this.#adapter.updateSecretValues(secretId, copy, serialized, call),
      copy,
    );
  }

  /**
   * Removes the secret for good, so its id can be stored again at once. Throws `SecretNotFoundError`
   * if it is missing. With `expectedValues`, only if it still holds them (see `DeleteOptions`).
   */
  async deleteSecretValues(id: string, options: DeleteOptions = {}): Promise<void> {
    const secretId = this.#validId(id, options.signal);
    const expected = options.expectedValues;
    const call = callOptions(options.signal);
    if (expected === undefined) {
      await this.#write("delete", secretId, call, () => this.#adapter.deleteSecretValues(secretId, call));
      return;
    }
    const copy = copyValidSecretValues(expected, secretId, this.provider);
    const adapter = this.#adapter;
    const conditional = this.#can.conditionalDelete ? adapter.deleteSecretValuesIfUnchanged?.bind(adapter) : undefined;
    await this.#write(
      "delete",
      secretId,
      call,
      async () => {
        if (conditional) return conditional(secretId, copy, call);
        // No conditional delete: read, compare, delete (the window is one round trip; see DeleteOptions).
        const current = checkStoredValues(
          (await adapter.getSecretValues(secretId, call)).values,
          secretId,
          this.provider,
        );
        if (!isDeepStrictEqual(current, copy)) throw new SecretChangedError(secretId, { provider: this.provider });
        call.signal?.throwIfAborted();
        await adapter.deleteSecretValues(secretId, call);
      },
      copy,
    );
  }

  /** Yields the ids of the secrets this store owns (its provider, prefix and ownership marks). */
  async *listSecretIds(options?: CallOptions): AsyncIterable<string> {
    const signal = options?.signal;
    this.#assertOpen();
    signal?.throwIfAborted();
    const adapter = this.#adapter;
    if (!this.#can.list || !adapter.listSecretIds) {
      throw new OperationNotSupportedError("listSecretIds", { provider: this.provider });
    }
    // One span from the first page to the last; each page is read inside it, the caller's work between pages is not.
    const traced = this.#tracing()?.begin("list", undefined);
    const ids = adapter.listSecretIds(callOptions(signal))[Symbol.asyncIterator]();
    let done = false;
    let failure: unknown;
    try {
      for (;;) {
        const next = traced === undefined ? await ids.next() : await traced.within(() => ids.next());
        if (next.done === true) break;
        // Also for an adapter that does not read the signal: the caller stops getting ids at once.
        signal?.throwIfAborted();
        // An adapter bug must not hand callers something that is not an id.
        if (typeof next.value === "string" && isCanonicalSecretId(next.value)) yield next.value;
      }
      done = true;
    } catch (error) {
      done = true;
      failure = signal?.aborted ? signal.reason : wrapUnknown(error, this.provider, "list");
      throw failure;
    } finally {
      traced?.end(failure);
      // The caller stopped early (a break): the adapter's listing ends too, as for-await would end it.
      if (!done) await ids.return?.();
    }
  }

  /**
   * Watches `ids` for changes: an async iterator of `{ id, kind, values? }`, `kind` being
   * `"changed"` (values differ from the poll before), `"deleted"` or `"created"` (a missing id
   * appeared), in the order of `ids` within a poll. `values` (on changed and created) are read once,
   * fresh, when the change is seen. The first poll, at once, only learns where each id stands: no
   * event for the initial state; with `since` (the values the caller read itself) it compares
   * with those instead and yields what differs. Then a poll every `intervalMs` (30 s by default)
   * after the last one ended.
   *
   * A poll sends the adapter's revision request per id where it has one (`capabilities.revision`:
   * a metadata or version call, no value read) and reads the values only of an id whose revision
   * moved (and every id's once, in the first poll, so a write of the same values is no event);
   * elsewhere it reads every id's values (the batch path). Values are compared as HMAC digests
   * under a key of this watch, never kept in plaintext. Both bypass the read cache (fresh reads, which refresh its entries).
   * Per-provider costs: docs/watching.md.
   *
   * Ends (the loop finishes, no error) when `signal` aborts, when the store is closed, or when the
   * consumer leaves the loop. A provider unavailable (after its retries) leaves the id as last seen
   * until a later poll answers (the error goes to `onError`); any other failure (permission
   * denied, integrity) is thrown by the iterator and ends the watch. Ids are validated at the
   * call, before any request.
   */
  watch(ids: Iterable<string>, options: WatchOptions = {}): AsyncGenerator<SecretChange, void, undefined> {
    const secretIds = [...new Set([...ids].map((id) => this.#validId(id, options.signal)))];
    const { intervalMs, concurrency } = watchSettings(options, this.provider);
    const stop =
      options.signal === undefined ? this.#closing.signal : AbortSignal.any([this.#closing.signal, options.signal]);
    const adapter = this.#adapter;
    const revision =
      this.#can.revision && adapter.getSecretRevision
        ? (id: string, signal: AbortSignal) => {
            const call = callOptions(signal);
            return this.#call("get revision of", id, call, async () => {
              if (adapter.getSecretRevision === undefined) throw new Error("the adapter has no getSecretRevision");
              return adapter.getSecretRevision(id, call);
            });
          }
        : undefined;
    // Copied at the call, under canonical ids: the caller may change its map while the watch runs.
    const since =
      options.since === undefined
        ? undefined
        : new Map([...options.since].map(([id, values]) => [this.#validId(id, options.signal), values] as const));
    return watchSecrets(
      {
        provider: this.provider,
        revision,
        read: (some, signal) => this.getManySecretValues(some, { fresh: true, onMissing: "skip", concurrency, signal }),
      },
      secretIds,
      { intervalMs, concurrency, stop, since, onError: options.onError },
    );
  }

  /** Releases the adapter's connections. The store cannot be used afterwards; a second call does nothing. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    this.#cache?.clear();
    this.#unreportCircuits?.();
    try {
      await this.#adapter.close?.();
    } catch (error) {
      throw wrapUnknown(error, this.provider, "close");
    }
  }

  [inspect.custom](): string {
    return `SecretStore ${inspect(this.toJSON())}`;
  }

  toJSON(): Record<string, unknown> {
    // Redacted by the provider the config named (a custom module's adapter reports a name of its
    // own, which redactConfig does not know, so it would hide every field), then shown under the
    // adapter's name.
    const configured = this.#config.provider ?? this.provider;
    const shown = redactConfig({ ...this.#config, provider: configured, prefix: this.prefix });
    shown.provider = this.provider;
    return shown;
  }

  #validId(id: string, signal: AbortSignal | undefined): string {
    this.#assertOpen();
    signal?.throwIfAborted();
    return canonicalSecretId(id, this.provider);
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new SecretStoreError("E_CONFIG", "this SecretStore has been closed", { provider: this.provider });
    }
  }

  /** A store, update or delete: the id's cache entry goes when it starts and again when it ends, however it ends. */
  async #write(
    operation: Operation,
    secretId: string,
    call: CallOptions,
    run: () => Promise<void>,
    values?: SecretValues,
  ): Promise<void> {
    const cache = this.#cache;
    if (cache === undefined) return this.#call(operation, secretId, call, run, values);
    cache.invalidate(secretId);
    try {
      await this.#call(operation, secretId, call, run, values);
    } finally {
      cache.invalidate(secretId);
    }
  }

  /**
   * One adapter call, its failure wrapped as a typed error. With a caller's signal, the call ends
   * when it aborts even if the adapter does not read it, and its reason is thrown as it is.
   */
  #call<T>(
    operation: Operation,
    secretId: string,
    call: CallOptions,
    run: () => Promise<T>,
    values?: SecretValues,
  ): Promise<T> {
    return this.#traced(
      operation,
      secretId,
      () => this.#callAdapter(operation, secretId, call, run, values),
      operation === "get" ? readSource : undefined,
    );
  }

  /** Runs `run`, an operation that reaches the adapter, under its span when telemetry is on. */
  #traced<T>(
    operation: Operation,
    secretId: string,
    run: () => Promise<T>,
    sourceOf: ((result: T) => AnswerSource) | undefined,
  ): Promise<T> {
    // Checked first: a call of the disabled logger with four arguments still copies them through
    // an iterator, on every operation.
    if (debug.enabled) debug("%s %s secret %s", this.provider, operation, secretId);
    const telemetry = this.#tracing();
    const traced = TRACED[operation];
    if (telemetry === undefined || traced === undefined) return run();
    return telemetry.run(traced, secretId, run, sourceOf);
  }

  async #callAdapter<T>(
    operation: Operation,
    secretId: string,
    call: CallOptions,
    run: () => Promise<T>,
    values: SecretValues | undefined,
  ): Promise<T> {
    const signal = call.signal;
    try {
      return await (signal === undefined ? run() : untilAborted(run(), signal));
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw wrapUnknown(error, this.provider, operation, secretId, values);
    }
  }
}
