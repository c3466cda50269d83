/**
 * Where telemetry reaches into code that must not load it: the kit's request runner, the
 * adapters' SDK hooks, the read cache and (later) the circuit breaker call these names, which do
 * nothing until `src/telemetry.ts` (loaded with `@opentelemetry/api`, only when it is installed
 * and enabled) fills them in. Nothing here imports anything, so a process without
 * OpenTelemetry pays one undefined check per request.
 */

/**
 * The operation a request belongs to, while its span records (never otherwise): adapters count
 * each request attempt they send here, and a retry gets a child span.
 */
export interface OperationRecord {
  /**
   * One attempt of one provider request: counted, and when `attempt` is 2 or more (a retry) run
   * under a child span `omnisecret.retry`. `attempt` is 1 for the first attempt.
   */
  attempt<T>(attempt: number, send: () => Promise<T>): Promise<T>;
  /** One request that has no retries of its own to show (the local store's SQL statements). */
  count(requests?: number): void;
}

/** Where an answer came from, for the span's `omnisecret.source`. */
export type AnswerSource = "provider" | "backup" | "stale_cache";

/** A circuit breaker's state as the `omnisecret.circuit.state` gauge reports it. */
export interface CircuitObservation {
  readonly provider: string;
  /** Which store of a config: its primary, or its backup store. */
  readonly side: "primary" | "backup";
  /** 0 closed, 1 half open (a trial call decides), 2 open (calls fail at once). */
  readonly state: 0 | 1 | 2;
}

let current: (() => OperationRecord | undefined) | undefined;
const circuitSources = new Set<() => Iterable<CircuitObservation>>();

/** The operation whose span is recording in this async context, if any. */
export function currentOperation(): OperationRecord | undefined {
  return current?.();
}

/** Counts one attempt (see `OperationRecord.attempt`); only `send` when nothing records. */
export function sendAttempt<T>(attempt: number, send: () => Promise<T>): Promise<T> {
  const record = current?.();
  return record === undefined ? send() : record.attempt(attempt, send);
}

/** For `src/telemetry.ts`: how to find the recording operation. */
export function setCurrentOperation(lookup: () => OperationRecord | undefined): void {
  current = lookup;
}

/**
 * Registers what the `omnisecret.circuit.state` gauge reports (a store's circuit breakers); the
 * returned function unregisters it (the store's close does).
 */
export function reportCircuitState(observe: () => Iterable<CircuitObservation>): () => void {
  circuitSources.add(observe);
  return () => circuitSources.delete(observe);
}

/** For `src/telemetry.ts`: every circuit's state now. */
export function observeCircuits(): CircuitObservation[] {
  return [...circuitSources].flatMap((observe) => [...observe()]);
}
