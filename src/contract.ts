/**
 * The adapter contract: what a provider must implement to sit behind `SecretStore`.
 *
 * The facade has already validated everything an adapter receives: `id` is a canonical
 * lowercase UUID, `values` is a plain object of non-empty string keys to string values,
 * and `serialized` (its `JSON.stringify`) is within `capabilities.maxValueBytes`. Adapters never
 * see bad input, so they only translate between the contract and their provider.
 *
 * Every method takes a `CallOptions` object last (the caller's `AbortSignal`, and room for the
 * options later issues add), so a new option is one field here rather than a new positional
 * parameter in every adapter. What an adapter can do is one `capabilities` object.
 *
 * Adapters signal outcomes by throwing the typed errors from `omnisecret` (for example
 * `new SecretNotFoundError(id)`); anything else they throw is wrapped by the facade in a
 * `SecretStoreError` with code `E_UNKNOWN` and the original error as `cause`.
 *
 * Adapters written to the earlier contract (`LegacySecretsAdapter`: no `capabilities`, no
 * options, a get that returns the map itself) keep working: the facade recognises them by the
 * missing `capabilities` and adapts them (`src/legacy-adapter.ts`).
 */

/** A secret's values: string keys to string values. */
export type SecretValues = Record<string, string>;

/** The options of one call, the same object for every method. */
export interface CallOptions {
  /**
   * The caller's signal. Once it aborts, the call rejects with `signal.reason` as it is (a
   * `DOMException` named `AbortError` for `controller.abort()`, `TimeoutError` for
   * `AbortSignal.timeout(ms)`), as `fetch` does, and the requests in flight are dropped where the
   * provider's SDK takes a signal. A write aborted in flight may still have been made, as after a
   * timeout. An adapter that cannot stop early may ignore it: the facade checks it before the call.
   */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Which version a get reads: `"latest"` (the current values, the default), `"previous"` (the
 * version made current just before the latest one, still readable through omnisecret only while
 * `keepVersions` is at least 2) or a version token from `listSecretVersions` or a `SecretRead`.
 */
export type VersionSelector = "latest" | "previous" | (string & {});

/** The options of a get: a `CallOptions` and the version to read. */
export interface ReadOptions extends CallOptions {
  /**
   * The version to read. Anything but `"latest"` is passed only to an adapter with
   * `capabilities.versions`, and a token only once `isVersionToken` accepted it.
   * @default "latest"
   */
  readonly version?: VersionSelector | undefined;
}

/**
 * One version of a secret, as `listSecretVersions` gives them (newest first).
 *
 * `token` is opaque: built from what the provider gives (an AWS version id, a Vault or GCP version
 * number, a Key Vault version id, a local number) and from the secret's incarnation (its creation),
 * so after a delete and a new store of the same id an old token never reads the new secret's
 * version: it is `SecretNotFoundError`. Build and read tokens with `versionToken` and
 * `parseVersionToken` from the kit.
 */
export interface SecretVersion {
  readonly token: string;
  /** When the provider made this version. */
  readonly createdAt: Date;
  /** Whether this is the version a get of "latest" reads. */
  readonly current: boolean;
  /**
   * Whether its values can be read through omnisecret: false for a version pruned (destroyed,
   * disabled) beyond `keepVersions` that the provider still lists.
   */
  readonly readable: boolean;
}

/** What a get gives: the values, and whether the facade's read cache may keep them. */
export interface SecretRead {
  /** A fresh object the caller may change. */
  readonly values: SecretValues;
  /**
   * The token of the version read, where the adapter keeps versions (`capabilities.versions`) and
   * knows it at no cost: a read of `"previous"` or of a token. The facade does not hand it out.
   */
  readonly version?: string | undefined;
  /**
   * `false`: the read cache must not keep these values. The backup store says so of the answers
   * its backup gave, so a stale copy is never served from memory once the primary answers again.
   * @default true
   */
  readonly cacheable?: boolean | undefined;
}

/** What an adapter can do. Every field is optional; the defaults are an adapter with just the four required methods. */
export interface AdapterCapabilities {
  /**
   * The provider's limit on the serialised values, in UTF-8 bytes of `JSON.stringify(values)`.
   * The facade rejects larger values with `SecretTooLargeError` before calling the adapter.
   * @default 65536 (AWS's and GCP's limit)
   */
  readonly maxValueBytes?: number | undefined;
  /**
   * Whether a store is atomic: of several racing stores of one id exactly one succeeds and the
   * others get `SecretAlreadyExistsError`. False where the provider has no conditional create
   * (Azure Key Vault: a read, then a set), so racers may all succeed, the last one's values
   * winning whole.
   * @default true
   */
  readonly atomicCreate?: boolean | undefined;
  /**
   * Whether the adapter has `deleteSecretValuesIfUnchanged`, decided atomically by the provider.
   * Without it the facade reads, compares and deletes, which leaves a window of about one round
   * trip in which another writer's update can be deleted with it.
   * @default false
   */
  readonly conditionalDelete?: boolean | undefined;
  /**
   * Whether the adapter has `getManySecretValues`, the provider's batch read. Without it the
   * facade reads several secrets with bounded concurrent gets (docs/backup-and-migration.md).
   * @default false
   */
  readonly batchGet?: boolean | undefined;
  /**
   * The most ids one `getManySecretValues` call takes.
   * @default 20
   */
  readonly maxBatchSize?: number | undefined;
  /**
   * Whether the adapter has `listSecretIds`. Without it, a list is `E_NOT_SUPPORTED`.
   * @default false
   */
  readonly list?: boolean | undefined;
  /**
   * Whether the adapter keeps versions: its get takes `version`, and it has `listSecretVersions`
   * and `isVersionToken`. Without it, asking for any version but the latest is `E_NOT_SUPPORTED`.
   * @default false
   */
  readonly versions?: boolean | undefined;
  /**
   * Whether the adapter has `getSecretRevision`: a request that tells whether a secret changed
   * without reading its value (a metadata or version call). `SecretStore.watch` polls with it;
   * without it, a watch reads the values and compares keyed digests of them.
   * @default false
   */
  readonly revision?: boolean | undefined;
}

/** `AdapterCapabilities` with every default filled in, as the facade reads them. */
export type ResolvedCapabilities = { readonly [K in keyof AdapterCapabilities]-?: NonNullable<AdapterCapabilities[K]> };

export interface SecretsAdapter {
  /** The provider name reported in errors, such as `"aws"`; defaults to the configured provider. */
  readonly provider?: string | undefined;

  /** What this adapter can do; its presence says the adapter follows this contract. */
  readonly capabilities: AdapterCapabilities;

  /**
   * Creates a new secret.
   * - Missing id: stores it.
   * - Existing id: throws `SecretAlreadyExistsError` and leaves the stored values unchanged.
   *   Where the provider allows it the create is atomic, so of several racing stores of one id
   *   exactly one succeeds (see `capabilities.atomicCreate`).
   */
  storeSecretValues(id: string, values: SecretValues, serialized: string, options: CallOptions): Promise<void>;

  /**
   * Reads a secret.
   * - Existing id: returns its values. The facade checks that they are a map of strings (else
   *   `SecretIntegrityError`) and hands the caller a copy.
   * - Missing id: throws `SecretNotFoundError`.
   */
  getSecretValues(id: string, options: ReadOptions): Promise<SecretRead>;

  /**
   * Replaces the whole map of an existing secret: keys absent from `values` are gone afterwards.
   * - Missing id: throws `SecretNotFoundError`; it never creates.
   */
  updateSecretValues(id: string, values: SecretValues, serialized: string, options: CallOptions): Promise<void>;

  /**
   * Removes a secret for good, so the same id can be stored again at once.
   * - Missing id: throws `SecretNotFoundError`.
   */
  deleteSecretValues(id: string, options: CallOptions): Promise<void>;

  /**
   * Removes a secret only if it still holds exactly `expected`, decided atomically by the provider
   * (Vault: the tombstone's check-and-set on the version read; the local store: one SQLite
   * transaction). Called only with `capabilities.conditionalDelete`.
   * - Missing id: throws `SecretNotFoundError`.
   * - Other values (or written meanwhile): throws `SecretChangedError` and deletes nothing.
   */
  deleteSecretValuesIfUnchanged?(id: string, expected: SecretValues, options: CallOptions): Promise<void>;

  /**
   * Reads several secrets with the provider's batch call. Called only with `capabilities.batchGet`.
   * - `ids`: distinct canonical ids, at most `capabilities.maxBatchSize` of them.
   * - Returns an entry for every id: what a get of it would have returned, or the typed error it
   *   would have thrown (`SecretNotFoundError` for a missing id, or a foreign one). An id left out
   *   of the map is reported to the caller as an `E_UNKNOWN` error.
   * - A failure of the whole call (the provider unreachable) is thrown; every id gets that error.
   */
  getManySecretValues?(ids: readonly string[], options: CallOptions): Promise<ReadonlyMap<string, SecretRead | Error>>;

  /**
   * Yields the ids of the secrets this adapter owns (its prefix and ownership marks), each once.
   * Called only with `capabilities.list`.
   */
  listSecretIds?(options: CallOptions): AsyncIterable<string>;

  /**
   * The versions of a secret, newest first (the current one first), each with its token. Called
   * only with `capabilities.versions`.
   * - Missing id: throws `SecretNotFoundError`.
   */
  listSecretVersions?(id: string, options: CallOptions): Promise<readonly SecretVersion[]>;

  /**
   * Whether `token` could be a version token of this adapter (its shape and length), decided
   * without a request; the facade refuses any other with `InvalidVersionError` before calling.
   * Called only with `capabilities.versions`.
   */
  isVersionToken?(token: string): boolean;

  /**
   * An opaque string that changes whenever the secret's values change (a write of the same values
   * may change it too), read without the value: a version id, number or etag with the secret's
   * incarnation, so a secret deleted and stored again between two calls gives another one. Called
   * only with `capabilities.revision`.
   * - Existing id: its current revision.
   * - Missing id: throws `SecretNotFoundError`.
   */
  getSecretRevision?(id: string, options: CallOptions): Promise<string>;

  /** Releases connections and handles. Optional; called once by `SecretStore.close()`. */
  close?(): Promise<void> | void;
}

/**
 * The contract before `capabilities` and `CallOptions`, as docs/providers/custom.md and
 * `examples/directory-adapter.mjs` first described it. Still accepted wherever an adapter is
 * (a custom module, `SecretStore.fromAdapter`, a factory), and adapted by the facade; write new
 * adapters to `SecretsAdapter`.
 * @deprecated Implement `SecretsAdapter`.
 */
export interface LegacySecretsAdapter {
  readonly provider?: string | undefined;
  /** @default 65536 */
  readonly maxValueBytes?: number | undefined;
  /** @default true */
  readonly atomicCreate?: boolean | undefined;
  /** @default 20 */
  readonly maxBatchSize?: number | undefined;
  storeSecretValues(id: string, values: SecretValues, serialized: string): Promise<void>;
  getSecretValues(id: string): Promise<SecretValues>;
  updateSecretValues(id: string, values: SecretValues, serialized: string): Promise<void>;
  deleteSecretValues(id: string): Promise<void>;
  deleteSecretValuesIfUnchanged?(id: string, expected: SecretValues): Promise<void>;
  getManySecretValues?(ids: readonly string[]): Promise<ReadonlyMap<string, SecretValues | Error>>;
  listSecretIds?(): AsyncIterable<string>;
  close?(): Promise<void> | void;
}

/** An adapter of either contract: what the facade, a factory or a custom module may hand over. */
export type AnySecretsAdapter = SecretsAdapter | LegacySecretsAdapter;

/** What every adapter factory receives besides its own options. */
export interface AdapterContext {
  /** The name prefix adapters put in front of the UUID (default `omnisecret`). */
  readonly prefix: string;
}

/**
 * A function that builds an adapter, sync or async. A custom adapter module's default export is
 * one of these, or a class whose constructor takes the same arguments.
 */
export type SecretsAdapterFactory<Options = Record<string, unknown>> = (
  options: Options,
  context: AdapterContext,
) => AnySecretsAdapter | Promise<AnySecretsAdapter>;
