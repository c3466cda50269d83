export type { AwsOptions } from "../adapters/aws/options.js";
export type { GcpOptions } from "../adapters/gcp/options.js";
export type { LocalOptions } from "../adapters/local/options.js";
export type { MemoryOptions } from "../adapters/memory/options.js";
export type { VaultOptions } from "../adapters/vault/options.js";
export { type ConfigSources, configFromSources, type OmnisecretConfig, redactConfig } from "./config.js";
export type { AdapterContext, SecretsAdapter, SecretsAdapterFactory, SecretValues } from "./contract.js";
export type { CustomOptions } from "./custom-adapter.js";
export {
  ConfigError,
  InvalidSecretIdError,
  InvalidSecretValuesError,
  isSecretStoreError,
  OperationNotSupportedError,
  PermissionDeniedError,
  ProviderUnavailableError,
  SecretAlreadyExistsError,
  SecretIntegrityError,
  SecretNotFoundError,
  SecretStoreError,
  type SecretStoreErrorCode,
  type SecretStoreErrorOptions,
  SecretTooLargeError,
} from "./errors.js";
export type { CacheOptions } from "./read-cache.js";
export { providerNames } from "./registry.js";
export { createAdapterFromConfig, SecretStore } from "./secret-store.js";
export { canonicalSecretId } from "./validation.js";
