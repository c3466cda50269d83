/**
 * Builds a config's adapter: its provider's (or, with `backup`, a BackupAdapter over the primary's
 * and the backup's). The facade (src/secret-store.ts) wraps what this returns; the contract suite
 * and tools that wrap adapters use it directly.
 */
import { BackupAdapter, type BackupOptions } from "./backup-adapter.js";
import type { CircuitBreaker, CircuitStateChange } from "./circuit-breaker.js";
import { type OmnisecretConfig, type ResolvedConfig, resolveConfigWithBackup } from "./config.js";
import type { SecretsAdapter } from "./contract.js";
import { contractAdapter } from "./legacy-adapter.js";
import { loadAdapterFactory, type ProviderDefinition } from "./registry.js";
import { wrapUnknown } from "./wrap-unknown.js";

/** Options of a store that are code, not config: callbacks. */
export interface StoreOptions extends BackupOptions {
  /**
   * Called when a circuit breaker (config `circuitBreaker`) changes state: which side's, and from
   * what to what. It must not throw (what it throws is ignored). An open breaker turns half-open
   * when the next call after `openMs` notices it, not on a timer.
   */
  readonly onCircuitStateChange?: ((change: CircuitStateChange) => void) | undefined;
}

/**
 * Validates a config and builds its provider's adapter, without the facade around it (the
 * contract suite and tools that wrap adapters use this). With `backup` in the config, the
 * adapter is a `BackupAdapter` over the two stores' adapters.
 */
export async function createAdapterFromConfig(
  config: OmnisecretConfig | Record<string, unknown>,
  options: StoreOptions = {},
): Promise<{ adapter: SecretsAdapter; config: ResolvedConfig; sides: readonly ResolvedSide[] }> {
  const { primary, backup } = await resolveConfigWithBackup(config);
  const primaryAdapter = await buildAdapter(primary.definition, primary.config, "primary", options);
  const primarySide = { ...primary, adapter: primaryAdapter };
  if (backup === undefined) return { adapter: primaryAdapter, config: primary.config, sides: [primarySide] };
  let backupAdapter: SecretsAdapter;
  try {
    backupAdapter = await buildAdapter(backup.definition, backup.config, "backup", options);
  } catch (error) {
    await Promise.resolve(primaryAdapter.close?.()).catch(() => undefined);
    throw error;
  }
  return {
    adapter: new BackupAdapter(
      { adapter: primaryAdapter, provider: primary.definition.name },
      { adapter: backupAdapter, provider: backup.definition.name },
      options,
    ),
    config: { ...primary.config, backup: backup.config },
    sides: [primarySide, { ...backup, adapter: backupAdapter }],
  };
}

/** One store a config opens (the primary, or its backup): its provider, resolved config and adapter. */
export interface ResolvedSide {
  readonly definition: ProviderDefinition;
  readonly config: ResolvedConfig;
  /** With `circuitBreaker` in its config, a `CircuitBreakerAdapter` around the provider's. */
  readonly adapter: SecretsAdapter;
}

/** The circuit breaker of an adapter this module built (`undefined` without `circuitBreaker` in its config). */
export function circuitBreakerOf(adapter: SecretsAdapter): CircuitBreaker | undefined {
  return (adapter as { breaker?: CircuitBreaker }).breaker;
}

async function buildAdapter(
  definition: ProviderDefinition,
  config: ResolvedConfig,
  side: "primary" | "backup",
  options: StoreOptions,
): Promise<SecretsAdapter> {
  const factory = await loadAdapterFactory(definition);
  let adapter: SecretsAdapter;
  try {
    // An adapter of the earlier contract (a custom module's) is adapted here, once, for every user of it.
    adapter = contractAdapter(await factory(config, { prefix: config.prefix }));
  } catch (error) {
    throw wrapUnknown(error, definition.name, "create");
  }
  if (config.circuitBreaker === undefined) return adapter;
  // Loaded only for a config with a breaker: most stores have none, and import time is start-up time.
  const { CircuitBreaker, CircuitBreakerAdapter } = await import("./circuit-breaker.js");
  const breaker = new CircuitBreaker(config.circuitBreaker, { provider: adapter.provider ?? definition.name, side });
  if (options.onCircuitStateChange) breaker.onStateChange(options.onCircuitStateChange);
  // Around each side before the backup store composes them: an open primary fails over at once.
  return new CircuitBreakerAdapter(adapter, breaker);
}
