/**
 * A fault injector for tests of stores over unreliable providers: wraps an adapter so that each
 * call waits a random delay first, and fails as unavailable while the injector is switched down.
 */
import type { SecretsAdapter, SecretValues } from "../contract.js";
import { ProviderUnavailableError } from "../errors.js";

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

const METHODS = ["storeSecretValues", "getSecretValues", "updateSecretValues", "deleteSecretValues"] as const;

export function withFaults(inner: SecretsAdapter, options: FaultOptions = {}): FaultyAdapter {
  const faulty = {
    provider: inner.provider,
    maxValueBytes: inner.maxValueBytes,
    atomicCreate: inner.atomicCreate,
    down: false,
    minDelayMs: options.minDelayMs ?? 0,
    maxDelayMs: options.maxDelayMs ?? 0,
    random: options.random ?? Math.random,
    calls: 0,
    inner,
  } as FaultyAdapter;
  const before = async (id: string | undefined): Promise<void> => {
    faulty.calls += 1;
    const span = Math.max(0, faulty.maxDelayMs - faulty.minDelayMs);
    const delay = faulty.minDelayMs + span * faulty.random();
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (faulty.down) throw new ProviderUnavailableError(id, { provider: inner.provider });
  };
  for (const method of METHODS) {
    Object.assign(faulty, {
      [method]: async (id: string, values?: SecretValues, serialized?: string) => {
        await before(id);
        return (inner[method] as (id: string, values?: SecretValues, serialized?: string) => Promise<unknown>).call(
          inner,
          id,
          values,
          serialized,
        );
      },
    });
  }
  if (inner.listSecretIds) {
    const list = inner.listSecretIds.bind(inner);
    faulty.listSecretIds = async function* () {
      await before(undefined);
      yield* list();
    };
  }
  return faulty;
}
