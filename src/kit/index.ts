/**
 * The adapter kit: what an adapter's code imports from omnisecret, the contract's types
 * (`src/contract.ts`) included. Adapters import from here only, never from the facade or the
 * config modules, so the core can change behind these names without touching every adapter.
 * (An adapter's `options.ts` and `provider.ts` take their pieces from `src/config-schema.ts`,
 * `src/provider-definition.ts` and `src/env-fields.ts`: `provider.ts` is loaded for every
 * provider whenever omnisecret is, so it must not load the schema library this module does.)
 *
 * Named re-exports, never `export *`: esbuild turns a star re-export into a runtime helper in a
 * chunk of its own, which every entry point then loaded (one more file at `import("omnisecret")`).
 */
export type * from "../contract.js";
export { type Deadline, DeadlineBoundAdapter, type OperationLimits } from "../deadline.js";
export {
  ConfigError,
  errorCodeOf,
  InvalidSecretIdError,
  InvalidSecretValuesError,
  InvalidVersionError,
  isSecretStoreError,
  OperationNotSupportedError,
  PermissionDeniedError,
  ProviderUnavailableError,
  SecretAlreadyExistsError,
  SecretChangedError,
  SecretIntegrityError,
  SecretNotFoundError,
  SecretStoreError,
  type SecretStoreErrorCode,
  type SecretStoreErrorOptions,
  SecretTooLargeError,
} from "../errors.js";
export { isNetworkErrorCode, isTlsTrustErrorCode } from "../network-errors.js";
export { currentOperation, type OperationRecord, sendAttempt } from "../telemetry-hooks.js";
export { checkStoredValues, isCanonicalSecretId, parseStoredValues, secretNamePattern } from "../validation.js";
export { redactValues } from "../wrap-unknown.js";
export { MANAGED_BY_VALUE, type MarkKeys, type Marks, Ownership, type OwnershipOptions } from "./ownership.js";
export {
  type BackoffPolicy,
  backoffDelayMs,
  NAME_RELEASE_BACKOFF,
  REQUEST_BACKOFF,
  type RequestPolicy,
  RequestRunner,
} from "./request.js";
export { trustedCas, trustingAgent } from "./tls-trust.js";
export { incarnationOf, MAX_VERSION_TOKEN_LENGTH, parseVersionToken, versionToken } from "./version-token.js";
