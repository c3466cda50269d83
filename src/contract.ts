/**
 * The adapter contract: what a provider must implement to sit behind `SecretStore`.
 *
 * The facade has already validated everything an adapter receives: `id` is a canonical
 * lowercase UUID, `values` is a plain object of non-empty string keys to string values,
 * and `serialized` (its `JSON.stringify`) is within `maxValueBytes`. Adapters never see bad
 * input, so they only translate between the contract and their provider.
 *
 * Adapters signal outcomes by throwing the typed errors from `omnisecret` (for example
 * `new SecretNotFoundError(id)`); anything else they throw is wrapped by the facade in a
 * `SecretStoreError` with code `E_UNKNOWN` and the original error as `cause`.
 */

/** A secret's values: string keys to string values. */
export type SecretValues = Record<string, string>;

/**
 * A mark an adapter may put on a map it returns (a non-enumerable property, set to `true`) to
 * keep the facade's read cache from storing it: the backup store marks the answers its backup
 * gave, so a stale copy is never served from memory once the primary answers again.
 */
export const UNCACHEABLE: unique symbol = Symbol.for("omnisecret.uncacheable");

export interface SecretsAdapter {
  /** The provider name reported in errors, such as `"aws"`; defaults to the configured provider. */
  readonly provider?: string;

  /**
   * The provider's limit on the serialised values, in UTF-8 bytes of `JSON.stringify(values)`.
   * The facade rejects larger values with `SecretTooLargeError` before calling the adapter.
   * @default 65536 (AWS's and GCP's limit), as for an adapter with only ZenML's four methods
   */
  readonly maxValueBytes?: number;

  /**
   * Whether a store is atomic: of several racing stores of one id exactly one succeeds and the
   * others get `SecretAlreadyExistsError`. False where the provider has no conditional create
   * (Azure Key Vault: a read, then a set), so racers may all succeed, the last one's values
   * winning whole.
   * @default true
   */
  readonly atomicCreate?: boolean;

  /**
   * Creates a new secret.
   * - Missing id: stores it.
   * - Existing id: throws `SecretAlreadyExistsError` and leaves the stored values unchanged.
   *   Where the provider allows it the create is atomic, so of several racing stores of one id
   *   exactly one succeeds (see `atomicCreate`).
   */
  storeSecretValues(id: string, values: SecretValues, serialized: string): Promise<void>;

  /**
   * Reads a secret.
   * - Existing id: returns its values (a fresh object the caller may change). The facade checks
   *   that they are a map of strings (else `SecretIntegrityError`) and hands the caller a copy.
   * - Missing id: throws `SecretNotFoundError`.
   */
  getSecretValues(id: string): Promise<SecretValues>;

  /**
   * Replaces the whole map of an existing secret: keys absent from `values` are gone afterwards.
   * - Missing id: throws `SecretNotFoundError`; it never creates.
   */
  updateSecretValues(id: string, values: SecretValues, serialized: string): Promise<void>;

  /**
   * Removes a secret for good, so the same id can be stored again at once.
   * - Missing id: throws `SecretNotFoundError`.
   */
  deleteSecretValues(id: string): Promise<void>;

  /**
   * Removes a secret only if it still holds exactly `expected`, decided atomically by the provider
   * (Vault: the tombstone's check-and-set on the version read; the local store: one SQLite
   * transaction). Optional: without it the facade reads, compares and deletes, which leaves a
   * window of about one round trip in which another writer's update can be deleted with it.
   * - Missing id: throws `SecretNotFoundError`.
   * - Other values (or written meanwhile): throws `SecretChangedError` and deletes nothing.
   */
  deleteSecretValuesIfUnchanged?(id: string, expected: SecretValues): Promise<void>;

  /**
   * Reads several secrets with the provider's batch call. Optional: without it the facade reads
   * them with bounded concurrent `getSecretValues` calls, which is what every built-in adapter
   * relies on today (docs/backup-and-migration.md says why).
   * - `ids`: distinct canonical ids, at most `maxBatchSize` of them.
   * - Returns an entry for every id: its values (a fresh object), or the typed error a get of
   *   it would have thrown (`SecretNotFoundError` for a missing id, or a foreign one). An id left
   *   out of the map is reported to the caller as an `E_UNKNOWN` error.
   * - A failure of the whole call (the provider unreachable) is thrown; every id gets that error.
   */
  getManySecretValues?(ids: readonly string[]): Promise<ReadonlyMap<string, SecretValues | Error>>;

  /**
   * The most ids one `getManySecretValues` call takes.
   * @default 20
   */
  readonly maxBatchSize?: number;

  /** Yields the ids of the secrets this adapter owns (its prefix and ownership marks), each once. Optional. */
  listSecretIds?(): AsyncIterable<string>;

  /** Releases connections and handles. Optional; called once by `SecretStore.close()`. */
  close?(): Promise<void> | void;
}

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
) => SecretsAdapter | Promise<SecretsAdapter>;
