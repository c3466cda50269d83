import { debuglog, inspect } from "node:util";
import {
  type ConfigSources,
  configFromSources,
  type OmnisecretConfig,
  type ResolvedConfig,
  redactConfig,
  resolveCacheOptions,
  resolveConfig,
} from "./config.js";
import type { SecretsAdapter, SecretValues } from "./contract.js";
import { isSecretStoreError, OperationNotSupportedError, SecretNotFoundError, SecretStoreError } from "./errors.js";
import { type CacheOptions, ReadCache, type ResolvedCacheOptions } from "./read-cache.js";
import { loadAdapterFactory } from "./registry.js";
import {
  canonicalSecretId,
  checkStoredValues,
  copyValidSecretValues,
  isCanonicalSecretId,
  serializeWithinLimit,
} from "./validation.js";

/** The size limit of an adapter that states none: AWS's and GCP's, so its values move to either. */
export const DEFAULT_MAX_VALUE_BYTES = 65_536;

// NODE_DEBUG=omnisecret shows operations and ids; never values, never credentials.
const debug = debuglog("omnisecret");

type Operation = "store" | "get" | "update" | "delete" | "list" | "close";

/**
 * The one API an application uses: store, get, update and delete a secret's values by its UUID,
 * whichever provider the configuration selects.
 *
 * Input is validated here, once, before any adapter call: a bad id, bad values or values over
 * the provider's size limit are rejected with a typed error and nothing stored changes.
 *
 * With `cache` in the config, gets are answered from memory for `ttlMs` (see `read-cache.ts`).
 */
export class SecretStore {
  readonly provider: string;
  readonly prefix: string;
  readonly #adapter: SecretsAdapter;
  readonly #config: Record<string, unknown>;
  readonly #cache: ReadCache | undefined;
  readonly #maxValueBytes: number;
  #closed = false;

  private constructor(
    adapter: SecretsAdapter,
    provider: string,
    prefix: string,
    config: Record<string, unknown>,
    cache: ResolvedCacheOptions | undefined,
  ) {
    this.#adapter = adapter;
    this.provider = provider;
    this.prefix = prefix;
    this.#config = config;
    this.#cache = cache ? new ReadCache(cache) : undefined;
    this.#maxValueBytes = adapter.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  }

  /** Validates `config` (a `ConfigError` names the field at fault), loads the provider's adapter and builds the store. */
  static async create(config: OmnisecretConfig | Record<string, unknown> = {}): Promise<SecretStore> {
    const { adapter, config: resolved } = await createAdapterFromConfig(config);
    debug("created %s store with prefix %s", resolved.provider, resolved.prefix);
    return new SecretStore(adapter, adapter.provider ?? resolved.provider, resolved.prefix, resolved, resolved.cache);
  }

  /** Builds the store from `OMNISECRET_*` variables and the provider's standard ones; see the README's configuration table. */
  static async fromEnv(env: NodeJS.ProcessEnv = process.env): Promise<SecretStore> {
    return SecretStore.create(configFromSources({ env }));
  }

  /** Builds the store from a config file, the environment and overrides, as the CLI does. */
  static async fromSources(sources: ConfigSources): Promise<SecretStore> {
    return SecretStore.create(configFromSources(sources));
  }

  /** Puts an adapter you built yourself behind the facade, with the same validation (and the read cache if `cache` is given). */
  static fromAdapter(
    adapter: SecretsAdapter,
    options: { provider?: string; prefix?: string; cache?: CacheOptions | undefined } = {},
  ): SecretStore {
    const provider = adapter.provider ?? options.provider ?? "custom";
    const cache = resolveCacheOptions(options.cache, provider);
    return new SecretStore(adapter, provider, options.prefix ?? "", { provider, ...(cache ? { cache } : {}) }, cache);
  }

  /** The largest `JSON.stringify(values)`, in UTF-8 bytes, this store accepts. */
  get maxValueBytes(): number {
    return this.#maxValueBytes;
  }

  /** Stores a new secret. Throws `SecretAlreadyExistsError` if the id exists; the stored values then stay as they were. */
  async storeSecretValues(id: string, values: SecretValues): Promise<void> {
    const secretId = this.#validId(id);
    const copy = copyValidSecretValues(values, secretId, this.provider);
    const serialized = serializeWithinLimit(copy, secretId, this.#maxValueBytes, this.provider);
    await this.#write("store", secretId, () => this.#adapter.storeSecretValues(secretId, copy, serialized), copy);
  }

  /**
   * Returns a fresh copy of the secret's values. Throws `SecretNotFoundError` if it is missing.
   * With the read cache on, a value read within `ttlMs` comes from memory.
   */
  async getSecretValues(id: string): Promise<SecretValues> {
    const secretId = this.#validId(id);
    const cache = this.#cache;
    if (cache === undefined) {
      const values = await this.#call("get", secretId, () => this.#adapter.getSecretValues(secretId));
      return checkStoredValues(values, secretId, this.provider);
    }
    const cached = cache.lookup(secretId);
    if (cached !== undefined) {
      if ("values" in cached) return { ...cached.values };
      throw new SecretNotFoundError(secretId, { provider: this.provider });
    }
    const ticket = cache.beginRead(secretId);
    let values: SecretValues;
    try {
      values = await this.#call("get", secretId, () => this.#adapter.getSecretValues(secretId));
    } catch (error) {
      if ((error as SecretStoreError).code === "E_SECRET_NOT_FOUND") cache.completeNotFound(secretId, ticket);
      else cache.abandonRead(secretId, ticket);
      throw error;
    }
    const checked = checkStoredValues(values, secretId, this.provider);
    cache.completeRead(secretId, ticket, checked);
    return { ...checked };
  }

  /** Replaces the whole map of an existing secret. Throws `SecretNotFoundError` if it is missing; it never creates. */
  async updateSecretValues(id: string, values: SecretValues): Promise<void> {
    const secretId = this.#validId(id);
    const copy = copyValidSecretValues(values, secretId, this.provider);
    const serialized = serializeWithinLimit(copy, secretId, this.#maxValueBytes, this.provider);
    await this.#write("update", secretId, () => this.#adapter.updateSecretValues(secretId, copy, serialized), copy);
  }

  /** Removes the secret for good, so its id can be stored again at once. Throws `SecretNotFoundError` if it is missing. */
  async deleteSecretValues(id: string): Promise<void> {
    const secretId = this.#validId(id);
    await this.#write("delete", secretId, () => this.#adapter.deleteSecretValues(secretId));
  }

  /** Yields the ids of the secrets this store owns (its provider, prefix and ownership marks). */
  async *listSecretIds(): AsyncIterable<string> {
    this.#assertOpen();
    const adapter = this.#adapter;
    if (!adapter.listSecretIds) throw new OperationNotSupportedError("listSecretIds", { provider: this.provider });
    try {
      for await (const id of adapter.listSecretIds()) {
        // An adapter bug must not hand callers something that is not an id.
        if (typeof id === "string" && isCanonicalSecretId(id)) yield id;
      }
    } catch (error) {
      throw wrapUnknown(error, this.provider, "list");
    }
  }

  /** Releases the adapter's connections. The store cannot be used afterwards; a second call does nothing. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cache?.clear();
    try {
      await this.#adapter.close?.();
    } catch (error) {
      throw wrapUnknown(error, this.provider, "close");
    }
  }

  [inspect.custom](): string {
    return `SecretStore ${inspect(redactConfig({ ...this.#config, provider: this.provider, prefix: this.prefix }))}`;
  }

  toJSON(): Record<string, unknown> {
    return redactConfig({ ...this.#config, provider: this.provider, prefix: this.prefix });
  }

  #validId(id: string): string {
    this.#assertOpen();
    return canonicalSecretId(id, this.provider);
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new SecretStoreError("E_CONFIG", "this SecretStore has been closed", { provider: this.provider });
    }
  }

  /** A store, update or delete: the id's cache entry goes when it starts and again when it ends, however it ends. */
  async #write(operation: Operation, secretId: string, run: () => Promise<void>, values?: SecretValues): Promise<void> {
    const cache = this.#cache;
    if (cache === undefined) return this.#call(operation, secretId, run, values);
    cache.invalidate(secretId);
    try {
      await this.#call(operation, secretId, run, values);
    } finally {
      cache.invalidate(secretId);
    }
  }

  async #call<T>(operation: Operation, secretId: string, run: () => Promise<T>, values?: SecretValues): Promise<T> {
    debug("%s %s secret %s", this.provider, operation, secretId);
    try {
      return await run();
    } catch (error) {
      throw wrapUnknown(error, this.provider, operation, secretId, values);
    }
  }
}

/**
 * Validates a config and builds its provider's adapter, without the facade around it (the
 * contract suite and tools that wrap adapters use this).
 */
export async function createAdapterFromConfig(
  config: OmnisecretConfig | Record<string, unknown>,
): Promise<{ adapter: SecretsAdapter; config: ResolvedConfig }> {
  const { definition, config: resolved } = await resolveConfig(config);
  const factory = await loadAdapterFactory(definition);
  try {
    return { adapter: await factory(resolved as never, { prefix: resolved.prefix }), config: resolved };
  } catch (error) {
    throw wrapUnknown(error, definition.name, "create");
  }
}

/**
 * Typed errors pass through (with the provider filled in); anything else becomes a
 * `SecretStoreError` with code `E_UNKNOWN` that keeps the original as `cause`. Its message
 * quotes the cause's message with every value the call carried cut out.
 */
function wrapUnknown(
  error: unknown,
  provider: string,
  operation: Operation | "create",
  secretId?: string,
  values?: SecretValues,
): SecretStoreError {
  if (isSecretStoreError(error)) {
    error.provider ??= provider;
    return error;
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

export function redactValues(text: string, values: SecretValues | undefined): string {
  if (!values) return text;
  let result = text;
  // Longest first, so a value that contains another is cut out whole.
  const secrets = Object.values(values)
    .filter((value) => value.length >= MIN_REDACTED_VALUE_LENGTH)
    .sort((a, b) => b.length - a.length);
  for (const secret of secrets) result = result.split(secret).join("[redacted]");
  return result;
}
