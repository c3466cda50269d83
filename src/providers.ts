/**
 * Every provider omnisecret ships, one line each. Adding a provider means adding its folder
 * under `adapters/`, its line here, its test side in `integration-tests/servers/` and its page in
 * `docs/providers/`; the config type, the env mapping, the CLI's list of providers and the
 * registration checks all follow from this list.
 */
import { awsProvider } from "../adapters/aws/provider.js";
import { azureProvider } from "../adapters/azure/provider.js";
import { gcpProvider } from "../adapters/gcp/provider.js";
import { localProvider } from "../adapters/local/provider.js";
import { memoryProvider } from "../adapters/memory/provider.js";
import { vaultProvider } from "../adapters/vault/provider.js";
import { customProvider } from "./custom-provider.js";
import type { ProviderConfig } from "./provider-definition.js";

export const providers = [
  localProvider,
  memoryProvider,
  awsProvider,
  gcpProvider,
  azureProvider,
  vaultProvider,
  customProvider,
] as const;

/** The configuration accepted by `SecretStore.create`: one provider's options, keyed on `provider` (default `local`). */
export type OmnisecretConfig = ProviderConfig<(typeof providers)[number]>;

/** The options of one provider, such as `ProviderOptions<"aws">`. */
export type ProviderOptions<Name extends OmnisecretConfig["provider"]> = Extract<OmnisecretConfig, { provider: Name }>;
