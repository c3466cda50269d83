/**
 * Time limits of the server adapters, under the same two options on every provider:
 * `requestTimeoutMs` bounds one request (one attempt), `operationTimeoutMs` bounds a whole
 * operation (a store, get, update, delete or one page of a list), every request and retry and
 * backoff in it included. This is the split the SDKs make themselves (AWS: a handler's
 * `requestTimeout` per attempt; Google's gax: an RPC timeout per attempt inside a total
 * timeout; Azure: `tryTimeoutInMs` inside a caller's abort signal), kept under one name here.
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
import { ProviderUnavailableError } from "./errors.js";
import { NO_OPTIONS } from "./legacy-adapter.js";

/** The defaults every server adapter documents; an operation against a server that never answers ends within 30 s. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
export const DEFAULT_OPERATION_TIMEOUT_MS = 20_000;

/** One operation's deadline, handed to each request it sends. */
export class Deadline {
  readonly #endsAt: number;
  /**
   * Made when `signal` is first read. An AbortController and its signal cost more than the rest of
   * an operation's own work together (about 3 µs and an EventTarget's garbage per operation, more
   * under load), and an adapter whose SDK takes no signal (gcp) reads it only to back off between
   * retries, so an operation whose requests all succeed at once never makes one.
   */
  #controller: AbortController | undefined;
  /** Why it ended early (the timeout's error, or the caller's abort reason); `undefined` while it runs. */
  #expiredWith: unknown;
  #expired = false;

  constructor(endsAt: number) {
    this.#endsAt = endsAt;
  }

  /** Aborted when the deadline passes: retry loops stop, and SDKs that take a signal drop the request. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#expired) this.#controller.abort(this.#expiredWith);
    }
    return this.#controller.signal;
  }

  /** Milliseconds left until the deadline (0 once it has passed). */
  remainingMs(): number {
    return Math.max(0, this.#endsAt - Date.now());
  }

  /** A request's timeout: `requestTimeoutMs`, cut to the time the operation has left (at least 1 ms). */
  requestTimeoutMs(requestTimeoutMs: number): number {
    return Math.max(1, Math.min(requestTimeoutMs, this.#endsAt - Date.now()));
  }

  /** The deadline has passed, or the caller aborted: aborts the signal (now, or when it is made) with `reason`. */
  expire(reason: unknown): void {
    this.#expired = true;
    this.#expiredWith = reason;
    this.#controller?.abort(reason);
  }
}

export interface OperationLimits {
  readonly provider: string;
  readonly operationTimeoutMs: number;
}

/**
 * Runs one operation under a deadline `operationTimeoutMs` from now. When it passes, the deadline's
 * signal aborts and the returned promise rejects at once with `ProviderUnavailableError`, whatever
 * the operation is still waiting for: the bound holds even for a request that ignores the signal.
 *
 * The caller's `signal` ends it the same way, with `signal.reason` (see `CallOptions.signal`). The
 * deadline's own signal stays one lazily made AbortController following both, rather than
 * `AbortSignal.any`, so an operation without a caller's signal pays for no listener.
 */
export function withinDeadline<T>(
  limits: OperationLimits,
  what: { operation: string; secretId?: string | undefined },
  run: (deadline: Deadline) => Promise<T>,
  signal?: AbortSignal | undefined,
): Promise<T> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  const deadline = new Deadline(Date.now() + limits.operationTimeoutMs);
  // One promise settled by whichever comes first, the operation or its timer (rather than a
  // Promise.race with a second promise for the timer: fewer objects on every operation).
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const target = what.secretId === undefined ? "" : ` secret ${what.secretId}`;
      const error = new ProviderUnavailableError(what.secretId, {
        provider: limits.provider,
        message: `${what.operation}${target} did not finish within operationTimeoutMs (${limits.operationTimeoutMs} ms); the provider did not answer in time`,
      });
      signal?.removeEventListener("abort", onAbort);
      deadline.expire(error);
      reject(error);
    }, limits.operationTimeoutMs);
    const onAbort = () => {
      clearTimeout(timer);
      deadline.expire(signal?.reason);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const settled = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    let running: Promise<T>;
    try {
      running = run(deadline);
    } catch (error) {
      // `run` threw before returning a promise.
      settled();
      reject(error);
      return;
    }
    // May settle after the deadline rejected, when nobody awaits it any more: the later
    // settlement of this promise is then ignored, and a rejection is not left unhandled.
    running.then(
      (value) => {
        settled();
        resolve(value);
      },
      (error: unknown) => {
        settled();
        reject(error);
      },
    );
  });
}

/**
 * Yields what `source` yields, each step (for the adapters, each page request) under its own
 * deadline of `operationTimeoutMs`: a list may be long, but no single wait is unbounded. `source`
 * is given a function that returns the deadline of the step being read, to hand to its requests.
 */
export async function* withinDeadlineEach<T>(
  limits: OperationLimits,
  operation: string,
  source: (stepDeadline: () => Deadline) => AsyncIterable<T>,
  signal?: AbortSignal | undefined,
): AsyncIterable<T> {
  let current: Deadline | undefined;
  const stepDeadline = () => {
    if (!current) throw new Error("a list step ran outside its deadline");
    return current;
  };
  const iterator = source(stepDeadline)[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      let step: IteratorResult<T>;
      try {
        step = await withinDeadline(
          limits,
          { operation },
          (deadline) => {
            current = deadline;
            return iterator.next();
          },
          signal,
        );
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
 * `work`, or the rejection with `signal.reason` once `signal` aborts, whichever comes first. Without
 * a signal, `work` itself: no listener and no promise more.
 */
export function untilAborted<T>(work: T | Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work as Promise<T>;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    Promise.resolve(work).then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * The base of the adapters that talk to a server: every public operation runs under its own
 * deadline (`withinDeadline`; each page of a list under `withinDeadlineEach`), joined with the
 * caller's signal, which the subclass receives as a parameter and hands to every request it sends.
 * The subclass implements the protected methods (the optional two where `capabilities` says it
 * has them) and states its `capabilities`.
 *
 * A parameter, not an AsyncLocalStorage: before Node 24 an AsyncLocalStorage in use turns on
 * promise hooks for the whole process, and every promise anyone creates pays for them (a cached
 * get ran at about half its speed once a server adapter had run one operation; the Azure SDK's
 * request pipeline, with its many promises, ran a get about 40% slower while they were on).
 */
export abstract class DeadlineBoundAdapter implements SecretsAdapter {
  abstract readonly provider: string;
  abstract readonly capabilities: AdapterCapabilities;
  /** The provider's name and `operationTimeoutMs` (an adapter passes its resolved options, which hold both). */
  protected readonly limits: OperationLimits;

  constructor(limits: OperationLimits) {
    this.limits = limits;
  }

  protected abstract storeValues(
    id: string,
    values: SecretValues,
    serialized: string,
    deadline: Deadline,
  ): Promise<void>;
  /**
   * `version`: undefined for the latest; with `capabilities.versions`, `"previous"` or a token the
   * adapter's `isVersionToken` accepted (the facade checks both before calling).
   */
  /**
   * An adapter that keeps versions may answer a `SecretRead` carrying the token of the version
   * read; the values alone otherwise.
   */
  protected abstract readValues(id: string, deadline: Deadline, version?: string): Promise<SecretValues | SecretRead>;
  protected abstract updateValues(
    id: string,
    values: SecretValues,
    serialized: string,
    deadline: Deadline,
  ): Promise<void>;
  protected abstract deleteValues(id: string, deadline: Deadline): Promise<void>;
  /** `stepDeadline()`: the deadline of the page being read, for its requests. */
  protected abstract listIds(stepDeadline: () => Deadline): AsyncIterable<string>;
  /** With `capabilities.conditionalDelete`: the atomic delete of `deleteSecretValuesIfUnchanged`. */
  protected deleteValuesIfUnchanged?(id: string, expected: SecretValues, deadline: Deadline): Promise<void>;
  /** With `capabilities.versions`: the secret's versions, newest first (see `listSecretVersions`). */
  protected listVersions?(id: string, deadline: Deadline): Promise<readonly SecretVersion[]>;
  /** With `capabilities.revision`: the secret's revision, read without its value (see `getSecretRevision`). */
  protected readRevision?(id: string, deadline: Deadline): Promise<string>;
  /** With `capabilities.batchGet`: one batch read, an entry per id (its values or its get's error). */
  protected readManyValues?(
    ids: readonly string[],
    deadline: Deadline,
  ): Promise<ReadonlyMap<string, SecretValues | Error>>;

  storeSecretValues(
    id: string,
    values: SecretValues,
    serialized: string,
    options: CallOptions = NO_OPTIONS,
  ): Promise<void> {
    return withinDeadline(
      this.limits,
      { operation: "store", secretId: id },
      (deadline) => this.storeValues(id, values, serialized, deadline),
      options.signal,
    );
  }

  getSecretValues(id: string, options: ReadOptions = NO_OPTIONS): Promise<SecretRead> {
    const version = options.version === "latest" ? undefined : options.version;
    return withinDeadline(
      this.limits,
      { operation: "get", secretId: id },
      (deadline) => this.readValues(id, deadline, version).then(asRead),
      options.signal,
    );
  }

  updateSecretValues(
    id: string,
    values: SecretValues,
    serialized: string,
    options: CallOptions = NO_OPTIONS,
  ): Promise<void> {
    return withinDeadline(
      this.limits,
      { operation: "update", secretId: id },
      (deadline) => this.updateValues(id, values, serialized, deadline),
      options.signal,
    );
  }

  deleteSecretValues(id: string, options: CallOptions = NO_OPTIONS): Promise<void> {
    return withinDeadline(
      this.limits,
      { operation: "delete", secretId: id },
      (deadline) => this.deleteValues(id, deadline),
      options.signal,
    );
  }

  deleteSecretValuesIfUnchanged(id: string, expected: SecretValues, options: CallOptions = NO_OPTIONS): Promise<void> {
    return withinDeadline(
      this.limits,
      { operation: "delete", secretId: id },
      (deadline) =>
        this.#required(this.deleteValuesIfUnchanged, "deleteSecretValuesIfUnchanged")(id, expected, deadline),
      options.signal,
    );
  }

  getManySecretValues(
    ids: readonly string[],
    options: CallOptions = NO_OPTIONS,
  ): Promise<Map<string, SecretRead | Error>> {
    return withinDeadline(
      this.limits,
      { operation: "batch get" },
      async (deadline) => {
        const answers = await this.#required(this.readManyValues, "getManySecretValues")(ids, deadline);
        const reads = new Map<string, SecretRead | Error>();
        for (const [id, answer] of answers) reads.set(id, answer instanceof Error ? answer : { values: answer });
        return reads;
      },
      options.signal,
    );
  }

  listSecretIds(options: CallOptions = NO_OPTIONS): AsyncIterable<string> {
    return withinDeadlineEach(this.limits, "list", (stepDeadline) => this.listIds(stepDeadline), options.signal);
  }

  listSecretVersions(id: string, options: CallOptions = NO_OPTIONS): Promise<readonly SecretVersion[]> {
    return withinDeadline(
      this.limits,
      { operation: "list versions of", secretId: id },
      (deadline) => this.#required(this.listVersions, "listSecretVersions")(id, deadline),
      options.signal,
    );
  }

  getSecretRevision(id: string, options: CallOptions = NO_OPTIONS): Promise<string> {
    return withinDeadline(
      this.limits,
      { operation: "get revision of", secretId: id },
      (deadline) => this.#required(this.readRevision, "getSecretRevision")(id, deadline),
      options.signal,
    );
  }

  /** A protected method this adapter may lack, bound to it (the facade calls it only where `capabilities` says it is there). */
  #required<F extends (...args: never[]) => unknown>(method: F | undefined, name: string): F {
    if (method === undefined) throw new Error(`${this.provider} adapter has no ${name}`);
    return method.bind(this) as F;
  }
}

/** A values map's entries are strings, so an object under `values` means a `SecretRead`. */
function asRead(answer: SecretValues | SecretRead): SecretRead {
  return typeof answer.values === "object" ? (answer as SecretRead) : { values: answer as SecretValues };
}
