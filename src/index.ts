export {
  type ConfigSources,
  configFromSources,
  type OmnisecretConfig,
  type ProviderOptions,
  redactConfig,
} from "./config.js";
export type { AdapterContext, SecretsAdapter, SecretsAdapterFactory, SecretValues } from "./contract.js";
export {
  ConfigError,
  InvalidSecretIdError,
  InvalidSecretValuesError,
  isSecretStoreError,
  OperationNotSupportedError,
  PermissionDeniedError,
  ProviderUnavailableError,
  SECRET_STORE_ERROR_CODES,
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
