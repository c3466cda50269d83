/**
 * The adapter kit: what an adapter's code imports from omnisecret, the contract's types
 * (`src/contract.ts`) included. Adapters import from here only, never from the facade or the
 * config modules, so the core can change behind these names without touching every adapter.
 * (An adapter's `options.ts` and `provider.ts` take their pieces from `src/config-schema.ts`,
 * `src/provider-definition.ts` and `src/env-fields.ts`: `provider.ts` is loaded for every
 * provider whenever omnisecret is, so it must not load the schema library this module does.)
 */
export type * from "../contract.js";
export { type Deadline, DeadlineBoundAdapter, type OperationLimits } from "../deadline.js";
export * from "../errors.js";
export { isNetworkErrorCode, isTlsTrustErrorCode } from "../network-errors.js";
export { checkStoredValues, isCanonicalSecretId, parseStoredValues, secretNamePattern } from "../validation.js";
export { redactValues } from "../wrap-unknown.js";
export * from "./ownership.js";
export * from "./request.js";
export * from "./tls-trust.js";
