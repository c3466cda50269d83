export { createAdapterFromConfig, type StoreOptions } from "./adapter-factory.js";
export type { BackupEvent, BackupOptions } from "./backup-adapter.js";
export type { CircuitBreakerOptions, CircuitState, CircuitStateChange } from "./circuit-breaker.js";
export {
  type CompareEntry,
  type CompareProgress,
  type CompareStatus,
  type CompareStoresOptions,
  type CompareSummary,
  compareStores,
} from "./compare-stores.js";
export {
  type ConfigSources,
  configFromSources,
  type OmnisecretConfig,
  type ProviderOptions,
  redactConfig,
} from "./config.js";
export type {
  AdapterCapabilities,
  AdapterContext,
  AnySecretsAdapter,
  CallOptions,
  LegacySecretsAdapter,
  ReadOptions,
  SecretRead,
  SecretsAdapter,
  SecretsAdapterFactory,
  SecretValues,
  SecretVersion,
  VersionSelector,
} from "./contract.js";
export {
  type CopyFailure,
  type CopyProgress,
  type CopySecretsOptions,
  type CopySummary,
  copySecrets,
  openPrimaryAndBackup,
} from "./copy-secrets.js";
export {
  ConfigError,
  InvalidReferenceError,
  InvalidSecretIdError,
  InvalidSecretValuesError,
  InvalidVersionError,
  isSecretStoreError,
  OperationNotSupportedError,
  PermissionDeniedError,
  ProviderUnavailableError,
  SECRET_STORE_ERROR_CODES,
  SecretAlreadyExistsError,
  SecretChangedError,
  SecretIntegrityError,
  SecretNotFoundError,
  SecretStoreError,
  type SecretStoreErrorCode,
  type SecretStoreErrorOptions,
  SecretTooLargeError,
} from "./errors.js";
export type { CacheOptions } from "./read-cache.js";
export {
  formatReference,
  isReference,
  parseReference,
  type ResolveOptions,
  resolveReferences,
  type SecretReference,
} from "./references.js";
export { providerNames } from "./registry.js";
export { type GetManyOptions, type GetOptions, type SecretReadResult, SecretStore } from "./secret-store.js";
export { canonicalSecretId } from "./validation.js";
export { DEFAULT_WATCH_INTERVAL_MS, type SecretChange, type WatchOptions } from "./watch.js";
