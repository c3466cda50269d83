/**
 * Time limits of the server adapters, under the same two options on every provider:
 * `requestTimeoutMs` bounds one request (one attempt), `operationTimeoutMs` bounds a whole
 * operation (a store, get, update, delete or one page of a list), every request and retry and
 * backoff in it included. This is the split the SDKs make themselves (AWS: a handler's
 * `requestTimeout` per attempt; Google's gax: an RPC timeout per attempt inside a total
 * timeout; Azure: `tryTimeoutInMs` inside a caller's abort signal), kept under one name here.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { SecretsAdapter, SecretValues } from "./contract.js";
import { ProviderUnavailableError } from "./errors.js";

/** The defaults every server adapter documents; an operation against a server that never answers ends within 30 s. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
export const DEFAULT_OPERATION_TIMEOUT_MS = 20_000;

/** One operation's deadline, handed to each request it sends. */
export class Deadline {
  /** Aborted when the deadline passes: retry loops stop, and SDKs that take a signal drop the request. */
  readonly signal: AbortSignal;
  readonly #endsAt: number;

  constructor(signal: AbortSignal, endsAt: number) {
    this.signal = signal;
    this.#endsAt = endsAt;
  }

  /** Milliseconds left until the deadline (0 once it has passed). */
  remainingMs(): number {
    return Math.max(0, this.#endsAt - Date.now());
  }

  /** A request's timeout: `requestTimeoutMs`, cut to the time the operation has left (at least 1 ms). */
  requestTimeoutMs(requestTimeoutMs: number): number {
    return Math.max(1, Math.min(requestTimeoutMs, this.#endsAt - Date.now()));
  }
}

/**
 * The deadline of the operation the caller runs in. It travels with the async context rather
 * than as a parameter, so that every request helper and SDK hook of an adapter finds it without
 * each call site passing it on.
 *
 * Before Node 24, an AsyncLocalStorage in use turns on promise hooks for the whole process: every
 * promise anyone creates pays for them (a cached get ran at about half its speed once a server
 * adapter had run one operation). So it is switched off whenever no operation is alive, and
 * `run` switches it on again. `operationsAlive` counts an operation until its own promise settles,
 * not only until its caller got an answer, so that an operation still running after its deadline
 * keeps finding it. Work an operation starts and does not await (a lookup sent beside a write that
 * then failed) may outlive it; with the storage off it finds no deadline, and its requests fall
 * back to `requestTimeoutMs` and the retry limits, so it is still bounded.
 */
const activeDeadline = new AsyncLocalStorage<Deadline>();
let operationsAlive = 0;

/** The deadline of the running operation, if it runs under `withinDeadline`. */
export function currentDeadline(): Deadline | undefined {
  return operationsAlive === 0 ? undefined : activeDeadline.getStore();
}

/** Whether the deadline's async context is switched on (for tests: it is off between operations). */
export function deadlineContextActive(): boolean {
  return operationsAlive > 0;
}

function operationEnded(): void {
  operationsAlive -= 1;
  if (operationsAlive === 0) activeDeadline.disable();
}

export interface OperationLimits {
  readonly provider: string;
  readonly operationTimeoutMs: number;
}

/**
 * Runs one operation under a deadline `operationTimeoutMs` from now. When it passes, the deadline's
 * signal aborts and the returned promise rejects at once with `ProviderUnavailableError`, whatever
 * the operation is still waiting for: the bound holds even for a request that ignores the signal.
 */
export async function withinDeadline<T>(
  limits: OperationLimits,
  what: { operation: string; secretId?: string | undefined },
  run: (deadline: Deadline) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const target = what.secretId === undefined ? "" : ` secret ${what.secretId}`;
      const error = new ProviderUnavailableError(what.secretId, {
        provider: limits.provider,
        message: `${what.operation}${target} did not finish within operationTimeoutMs (${limits.operationTimeoutMs} ms); the provider did not answer in time`,
      });
      controller.abort(error);
      reject(error);
    }, limits.operationTimeoutMs);
  });
  const deadline = new Deadline(controller.signal, Date.now() + limits.operationTimeoutMs);
  operationsAlive += 1;
  let running: Promise<T>;
  try {
    running = activeDeadline.run(deadline, () => run(deadline));
  } catch (error) {
    // `run` threw before returning a promise.
    clearTimeout(timer);
    operationEnded();
    throw error;
  }
  // May settle after the deadline rejected, when nobody awaits it any more.
  running.then(operationEnded, operationEnded);
  try {
    return await Promise.race([running, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Yields what `iterable` yields, each step (for the adapters, each page request) under its own
 * deadline of `operationTimeoutMs`: a list may be long, but no single wait is unbounded.
 */
export async function* withinDeadlineEach<T>(
  limits: OperationLimits,
  operation: string,
  iterable: AsyncIterable<T>,
): AsyncIterable<T> {
  const iterator = iterable[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      let step: IteratorResult<T>;
      try {
        step = await withinDeadline(limits, { operation }, () => iterator.next());
      } catch (error) {
        // A step that timed out may still be running; return() would wait for it.
        finished = true;
        throw error;
      }
      if (step.done) {
        finished = true;
        return;
      }
      yield step.value;
    }
  } finally {
    // The caller stopped early (break): let the source release what it holds.
    if (!finished) await iterator.return?.();
  }
}

/**
 * The base of the adapters that talk to a server: every public operation runs under its own
 * deadline (`withinDeadline`; each page of a list under `withinDeadlineEach`), so a subclass
 * implements the operations themselves and finds the deadline with `currentDeadline()` where it
 * sends a request.
 */
export abstract class DeadlineBoundAdapter implements SecretsAdapter {
  abstract readonly provider: string;
  abstract readonly maxValueBytes: number;
  /** The provider's name and `operationTimeoutMs`, read when an operation starts. */
  protected abstract get limits(): OperationLimits;

  protected abstract storeValues(id: string, values: SecretValues, serialized: string): Promise<void>;
  protected abstract readValues(id: string): Promise<SecretValues>;
  protected abstract updateValues(id: string, values: SecretValues, serialized: string): Promise<void>;
  protected abstract deleteValues(id: string): Promise<void>;
  protected abstract listIds(): AsyncIterable<string>;

  storeSecretValues(id: string, values: SecretValues, serialized: string): Promise<void> {
    return withinDeadline(this.limits, { operation: "store", secretId: id }, () =>
      this.storeValues(id, values, serialized),
    );
  }

  getSecretValues(id: string): Promise<SecretValues> {
    return withinDeadline(this.limits, { operation: "get", secretId: id }, () => this.readValues(id));
  }

  updateSecretValues(id: string, values: SecretValues, serialized: string): Promise<void> {
    return withinDeadline(this.limits, { operation: "update", secretId: id }, () =>
      this.updateValues(id, values, serialized),
    );
  }

  deleteSecretValues(id: string): Promise<void> {
    return withinDeadline(this.limits, { operation: "delete", secretId: id }, () => this.deleteValues(id));
  }

  listSecretIds(): AsyncIterable<string> {
    return withinDeadlineEach(this.limits, "list", this.listIds());
  }
}
