/**
 * The opt-in circuit breaker of one adapter (config `circuitBreaker`): once a provider has been
 * unavailable for `failureThreshold` operations in a row, calls fail at once for `openMs` with
 * `E_PROVIDER_UNAVAILABLE` instead of each waiting out its deadline; then one trial call decides
 * (success closes the breaker, unavailability opens it again; calls meanwhile fail at once).
 *
 * What counts, per operation as the adapter ends it (after its own retries):
 * - `E_PROVIDER_UNAVAILABLE` is a failure;
 * - any other typed answer (not found, exists, permission, integrity, changed...) is a success:
 *   the provider answered, so it is reachable, and the count of failures starts again;
 * - `E_UNKNOWN` (something the adapter could not classify) and the caller's abort say nothing
 *   about reachability: they neither count nor reset; a trial ending so leaves the breaker
 *   half-open for the next call to try.
 * Outcomes of calls that began before the breaker opened are ignored once it is open: only the
 * trial decides.
 *
 * The breaker sits on each side adapter, below the backup store (`adapter-factory.ts`), so an
 * open primary fails over to the backup at once, and below the facade's read cache, whose
 * stale-if-error answers a get the breaker refused.
 *
 * Written here rather than taken from cockatiel (whose ConsecutiveBreaker and halfOpenAfter do
 * the same): its open-circuit error cannot say for how long the breaker stays open, its clock is
 * the wall clock (tests would need fake timers), and a dependency for ~100 lines was not worth
 * it. This module is loaded only when a breaker is configured.
 */
import type {
  AdapterCapabilities,
  CallOptions,
  ReadOptions,
  SecretRead,
  SecretsAdapter,
  SecretValues,
  SecretVersion,
} from "./contract.js";
import { isSecretStoreError, ProviderUnavailableError } from "./errors.js";

export interface CircuitBreakerOptions {
  /** Consecutive `E_PROVIDER_UNAVAILABLE` failures that open the breaker. */
  readonly failureThreshold: number;
  /** Milliseconds the breaker stays open before a trial call. */
  readonly openMs: number;
}

export type CircuitState = "closed" | "open" | "half-open";

/** A change of a breaker's state, for `onStateChange` (telemetry, logs). Never carries an id or value. */
export interface CircuitStateChange {
  /** The provider of the adapter the breaker guards. */
  readonly provider: string;
  /** Which adapter of the store: the primary, or the backup store's backup. */
  readonly side: "primary" | "backup";
  readonly state: CircuitState;
  readonly previous: CircuitState;
}

export interface CircuitClock {
  now(): number;
}

type Outcome = "success" | "failure" | "neutral";

export class CircuitBreaker {
  readonly options: CircuitBreakerOptions;
  readonly provider: string;
  readonly side: "primary" | "backup";
  readonly #clock: CircuitClock;
  readonly #listeners = new Set<(change: CircuitStateChange) => void>();
  #state: CircuitState = "closed";
  #failures = 0;
  #openedAt = 0;
  #trialInFlight = false;

  constructor(
    options: CircuitBreakerOptions,
    context: { provider: string; side?: "primary" | "backup"; clock?: CircuitClock | undefined },
  ) {
    this.options = { failureThreshold: options.failureThreshold, openMs: options.openMs };
    this.provider = context.provider;
    this.side = context.side ?? "primary";
    this.#clock = context.clock ?? performance;
  }

  /** The state now: `open` turns `half-open` once `openMs` has passed (noticed when read, no timer). */
  get state(): CircuitState {
    if (this.#state === "open" && this.#clock.now() - this.#openedAt >= this.options.openMs) {
      this.#moveTo("half-open");
    }
    return this.#state;
  }

  /** Calls `listener` on every change of state (it must not throw; what it throws is ignored). Returns its removal. */
  onStateChange(listener: (change: CircuitStateChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Lets a call through, or throws `ProviderUnavailableError` at once (open, or half-open with its
   * trial in flight). Returns whether the call is the trial; pass that to `exit`.
   */
  enter(secretId: string | undefined): boolean {
    const state = this.state;
    if (state === "closed") return false;
    if (state === "half-open" && !this.#trialInFlight) {
      this.#trialInFlight = true;
      return true;
    }
    const why =
      state === "open"
        ? `calls fail at once for ${formatSeconds(this.options.openMs - (this.#clock.now() - this.#openedAt))} more`
        : "a trial call is deciding whether it closes";
    throw new ProviderUnavailableError(secretId, {
      provider: this.provider,
      message: `the circuit breaker of provider "${this.provider}"${this.side === "backup" ? " (backup)" : ""} is ${state} after ${this.options.failureThreshold} consecutive unavailable answers: ${why}`,
    });
  }

  /** Ends a call let through by `enter`, with what its outcome says about reachability. */
  exit(trial: boolean, outcome: Outcome): void {
    if (trial) {
      this.#trialInFlight = false;
      if (outcome === "success") {
        this.#failures = 0;
        this.#moveTo("closed");
      } else if (outcome === "failure") this.#open();
      return;
    }
    if (this.#state !== "closed") return;
    if (outcome === "success") this.#failures = 0;
    else if (outcome === "failure") {
      this.#failures += 1;
      if (this.#failures >= this.options.failureThreshold) this.#open();
    }
  }

  /** Runs `call` through the breaker. */
  async run<T>(secretId: string | undefined, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    const trial = this.enter(secretId);
    let outcome: Outcome = "neutral";
    try {
      const result = await call();
      outcome = "success";
      return result;
    } catch (error) {
      outcome = signal?.aborted ? "neutral" : outcomeOf(error);
      throw error;
    } finally {
      this.exit(trial, outcome);
    }
  }

  #open(): void {
    this.#failures = 0;
    this.#openedAt = this.#clock.now();
    this.#moveTo("open");
  }

  #moveTo(state: CircuitState): void {
    const previous = this.#state;
    if (previous === state && state !== "open") return;
    this.#state = state;
    const change: CircuitStateChange = { provider: this.provider, side: this.side, state, previous };
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch {
        // A listener's failure must not change the call's outcome.
      }
    }
  }
}

function outcomeOf(error: unknown): Outcome {
  if (!isSecretStoreError(error) || error.code === "E_UNKNOWN") return "neutral";
  return error.code === "E_PROVIDER_UNAVAILABLE" ? "failure" : "success";
}

function formatSeconds(ms: number): string {
  return `${(Math.max(ms, 0) / 1000).toFixed(1)} s`;
}

/** An adapter whose every call goes through `breaker` first; capabilities and provider are the inner adapter's. */
export class CircuitBreakerAdapter implements SecretsAdapter {
  readonly provider: string | undefined;
  readonly capabilities: AdapterCapabilities;
  readonly breaker: CircuitBreaker;
  readonly #inner: SecretsAdapter;

  constructor(inner: SecretsAdapter, breaker: CircuitBreaker) {
    this.#inner = inner;
    this.breaker = breaker;
    this.provider = inner.provider;
    this.capabilities = inner.capabilities;
    // Present only where the inner adapter has them: callers check for the method itself too.
    if (inner.isVersionToken) this.isVersionToken = (token) => inner.isVersionToken?.(token) === true;
    if (!inner.getManySecretValues) this.getManySecretValues = undefined;
    if (!inner.deleteSecretValuesIfUnchanged) this.deleteSecretValuesIfUnchanged = undefined;
    if (!inner.listSecretIds) this.listSecretIds = undefined;
    if (!inner.listSecretVersions) this.listSecretVersions = undefined;
    if (!inner.getSecretRevision) this.getSecretRevision = undefined;
    if (!inner.close) this.close = undefined;
  }

  isVersionToken?: (token: string) => boolean;

  storeSecretValues(id: string, values: SecretValues, serialized: string, options: CallOptions): Promise<void> {
    return this.breaker.run(id, options.signal, () => this.#inner.storeSecretValues(id, values, serialized, options));
  }

  getSecretValues(id: string, options: ReadOptions): Promise<SecretRead> {
    return this.breaker.run(id, options.signal, () => this.#inner.getSecretValues(id, options));
  }

  updateSecretValues(id: string, values: SecretValues, serialized: string, options: CallOptions): Promise<void> {
    return this.breaker.run(id, options.signal, () => this.#inner.updateSecretValues(id, values, serialized, options));
  }

  deleteSecretValues(id: string, options: CallOptions): Promise<void> {
    return this.breaker.run(id, options.signal, () => this.#inner.deleteSecretValues(id, options));
  }

  getManySecretValues? = (ids: readonly string[], options: CallOptions) =>
    this.breaker.run(undefined, options.signal, () => {
      if (!this.#inner.getManySecretValues) throw new Error("the adapter has no getManySecretValues");
      return this.#inner.getManySecretValues(ids, options);
    });

  deleteSecretValuesIfUnchanged? = (id: string, expected: SecretValues, options: CallOptions) =>
    this.breaker.run(id, options.signal, () => {
      if (!this.#inner.deleteSecretValuesIfUnchanged)
        throw new Error("the adapter has no deleteSecretValuesIfUnchanged");
      return this.#inner.deleteSecretValuesIfUnchanged(id, expected, options);
    });

  listSecretVersions? = (id: string, options: CallOptions): Promise<readonly SecretVersion[]> =>
    this.breaker.run(id, options.signal, () => {
      if (!this.#inner.listSecretVersions) throw new Error("the adapter has no listSecretVersions");
      return this.#inner.listSecretVersions(id, options);
    });

  getSecretRevision? = (id: string, options: CallOptions): Promise<string> =>
    this.breaker.run(id, options.signal, () => {
      if (!this.#inner.getSecretRevision) throw new Error("the adapter has no getSecretRevision");
      return this.#inner.getSecretRevision(id, options);
    });

  listSecretIds? = (options: CallOptions): AsyncIterable<string> => this.#list(options);

  async *#list(options: CallOptions): AsyncIterable<string> {
    const inner = this.#inner.listSecretIds;
    if (!inner) return;
    const trial = this.breaker.enter(undefined);
    // A page answered is a success; a list stopped by its consumer before any says nothing.
    let outcome: Outcome = "neutral";
    try {
      for await (const id of inner.call(this.#inner, options)) {
        outcome = "success";
        yield id;
      }
      outcome = "success";
    } catch (error) {
      outcome = options.signal?.aborted ? "neutral" : outcomeOf(error);
      throw error;
    } finally {
      this.breaker.exit(trial, outcome);
    }
  }

  close? = async (): Promise<void> => {
    await this.#inner.close?.();
  };
}
