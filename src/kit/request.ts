/**
 * How a server adapter sends a request: one backoff policy, and one runner that sends a request
 * under its operation's deadline, retries what the provider says passes with time, and maps the
 * error that ends it. Adapters whose SDK retries by itself (its own attempts, its own waits)
 * configure the SDK from the same policy, so every provider waits alike between attempts.
 */
import type { Deadline } from "../deadline.js";
import { retryWithBackoff } from "../retry.js";
import { sendAttempt } from "../telemetry-hooks.js";

/**
 * The waits between attempts: `initialDelayMs` before the first retry, doubled for each retry
 * after it, each drawn between once and twice that (so clients that failed together do not
 * retry together), and none longer than `maxDelayMs`.
 */
export interface BackoffPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * Between the attempts of one request: a throttled, sealed or overloaded server, an answer lost.
 * With the default attempts (3 or 4) the waits add up to at most a few seconds, well inside an
 * operation's 20 s.
 */
export const REQUEST_BACKOFF: BackoffPolicy = { initialDelayMs: 200, maxDelayMs: 2_000 };

/**
 * Between the attempts of a store whose name a deleted secret still holds while the provider
 * frees it in the background (a delete or purge that takes seconds to finish): longer waits, so
 * the attempts cover that time rather than a transient failure's.
 */
export const NAME_RELEASE_BACKOFF: BackoffPolicy = { initialDelayMs: 250, maxDelayMs: 4_000 };

/** The wait before retry `retry` (1 for the first retry): what `retryWithBackoff` waits, for an SDK's own retries. */
export function backoffDelayMs(policy: BackoffPolicy, retry: number): number {
  const exponential = policy.initialDelayMs * 2 ** Math.max(0, retry - 1);
  return Math.min(policy.maxDelayMs, Math.round((1 + Math.random()) * exponential));
}

export interface RequestPolicy {
  /** Attempts per request, the first included: the adapter's `maxAttempts`. */
  readonly attempts: number;
  /** Whether a failed attempt is worth another: the provider's failures that pass with time. */
  readonly isRetryable: (error: unknown) => boolean;
  /**
   * For `send`: the failure that ends a request, as omnisecret's error (or as it is, when it has
   * no typed counterpart). Without it, `send` throws what `run` does.
   */
  readonly mapError?: (error: unknown, id: string | undefined) => unknown;
  /** @default REQUEST_BACKOFF */
  readonly backoff?: BackoffPolicy;
  /**
   * Run before a request's first attempt, not retried (a client's setup, a sign-in); nothing to
   * wait for when it returns undefined, so a ready client adds no turn to a request.
   */
  readonly prepare?: () => Promise<unknown> | undefined;
  /**
   * After a failed attempt, once per request: may renew what the request needs (a token after a
   * 403) and answer true to send it again. A renewal that fails fails the attempt with its error.
   */
  readonly renewAfter?: (error: unknown) => Promise<boolean> | false;
}

/** Thrown inside the retry loop after a renewal, so the request is sent again; its cause is the failure before. */
class Renewed extends Error {
  override name = "Renewed";
}

/** The requests of one adapter, made once with its attempts, its retryable errors and its mapping. */
export class RequestRunner {
  readonly #policy: RequestPolicy;
  readonly #backoff: BackoffPolicy;
  readonly #shouldRetry: (error: unknown) => boolean;

  constructor(policy: RequestPolicy) {
    this.#policy = policy;
    this.#backoff = policy.backoff ?? REQUEST_BACKOFF;
    this.#shouldRetry = (error) => error instanceof Renewed || policy.isRetryable(error);
  }

  /**
   * Sends `attempt` until it succeeds, fails in a way `isRetryable` refuses, the attempts run out
   * or the deadline passes (during a wait too: then its reason, the operation's timeout, is
   * thrown). Any other failure is thrown as the last attempt threw it, unmapped. Without a
   * deadline (a sign-in shared by several operations), only the attempts bound it.
   */
  run<T>(deadline: Deadline | undefined, attempt: () => Promise<T>): Promise<T> {
    let ready: Promise<unknown> | undefined;
    try {
      ready = this.#policy.prepare?.();
    } catch (error) {
      return Promise.reject(error);
    }
    return ready === undefined ? this.#retry(deadline, attempt) : ready.then(() => this.#retry(deadline, attempt));
  }

  /** `run`, its final failure mapped by `mapError` for the secret `id`. */
  send<T>(deadline: Deadline | undefined, id: string | undefined, attempt: () => Promise<T>): Promise<T> {
    const mapError = this.#policy.mapError;
    if (mapError === undefined) return this.run(deadline, attempt);
    return this.run(deadline, attempt).catch((error: unknown) => {
      throw mapError(error, id);
    });
  }

  #retry<T>(deadline: Deadline | undefined, send: () => Promise<T>): Promise<T> {
    // Each attempt is one request the operation's span counts, and a retry its child span.
    let attempts = 0;
    const attempt = () => {
      attempts += 1;
      return sendAttempt(attempts, send);
    };
    const options = {
      ...this.#backoff,
      attempts: this.#policy.attempts,
      // Read only for a retry: the deadline makes its AbortController on demand.
      signal: deadline && (() => deadline.signal),
    };
    const renewAfter = this.#policy.renewAfter;
    if (renewAfter === undefined) return retryWithBackoff(attempt, this.#shouldRetry, options);
    let renewed = false;
    const renewing = () =>
      attempt().catch(async (error: unknown) => {
        if (!renewed && (await renewAfter(error))) {
          renewed = true;
          throw new Renewed(undefined, { cause: error });
        }
        throw error;
      });
    return retryWithBackoff(renewing, this.#shouldRetry, options).catch((error: unknown) => {
      throw error instanceof Renewed ? error.cause : error;
    });
  }
}
