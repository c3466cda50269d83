/**
 * A fault injector for tests of stores over unreliable providers: wraps an adapter so that each
 * call waits a random delay first, and fails as unavailable while the injector is switched down.
 */
import type { AnySecretsAdapter, SecretsAdapter } from "../contract.js";
import { ProviderUnavailableError } from "../errors.js";
import { contractAdapter, resolveCapabilities } from "../legacy-adapter.js";

export interface FaultOptions {
  /** Least delay before each call, in ms. @default 0 */
  minDelayMs?: number;
  /** Most delay before each call, in ms (uniform in between). @default 0 */
  maxDelayMs?: number;
  /** The randomness of the delays, in [0, 1). @default Math.random */
  random?: () => number;
}

/** An adapter with its faults: switch `down`, change the delays, count the calls. */
export interface FaultyAdapter extends SecretsAdapter {
  /** While true, every call fails with `ProviderUnavailableError` (after its delay). */
  down: boolean;
  minDelayMs: number;
  maxDelayMs: number;
  random: () => number;
  /** Calls made so far. */
  calls: number;
  /** The adapter underneath, for reading a side directly. */
  readonly inner: SecretsAdapter;
}

/**
 * Wraps `given` (either contract; the wrapper follows today's). Only the four required methods and
 * list are wrapped, so the capabilities it offers are those of an adapter with just these.
 */
export function withFaults(given: AnySecretsAdapter, options: FaultOptions = {}): FaultyAdapter {
  const inner = contractAdapter(given);
  const can = resolveCapabilities(inner.capabilities);
  const before = async (id: string | undefined): Promise<void> => {
    faulty.calls += 1;
    const span = Math.max(0, faulty.maxDelayMs - faulty.minDelayMs);
    const delay = faulty.minDelayMs + span * faulty.random();
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (faulty.down) throw new ProviderUnavailableError(id, { provider: inner.provider });
  };
  const faulty: FaultyAdapter = {
    provider: inner.provider,
    capabilities: { maxValueBytes: can.maxValueBytes, atomicCreate: can.atomicCreate, list: can.list },
    down: false,
    minDelayMs: options.minDelayMs ?? 0,
    maxDelayMs: options.maxDelayMs ?? 0,
    random: options.random ?? Math.random,
    calls: 0,
    inner,
    async storeSecretValues(id, values, serialized, call) {
      await before(id);
      return inner.storeSecretValues(id, values, serialized, call);
    },
    async getSecretValues(id, call) {
      await before(id);
      return inner.getSecretValues(id, call);
    },
    async updateSecretValues(id, values, serialized, call) {
      await before(id);
      return inner.updateSecretValues(id, values, serialized, call);
    },
    async deleteSecretValues(id, call) {
      await before(id);
      return inner.deleteSecretValues(id, call);
    },
    async *listSecretIds(call) {
      await before(undefined);
      if (inner.listSecretIds) yield* inner.listSecretIds(call);
    },
  };
  return faulty;
}
