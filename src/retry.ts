/**
 * Retry with exponential backoff and jitter, for the provider states that pass with time (a
 * name still being deleted, a throttled or sealed server). Built on p-retry, which is loaded at
 * the first failure: a process whose requests all succeed never loads it.
 */
import type { BackoffPolicy } from "./kit/request.js";

/** A backoff policy (src/kit/request.ts: what the waits are, and the policies adapters use) and the attempts. */
export interface BackoffOptions extends BackoffPolicy {
  /** Attempts in all, the first included. */
  readonly attempts: number;
  /**
   * Stops the retries (during a backoff too) when aborted, rejecting with the signal's reason: the
   * operation's deadline. A function is called only once the first attempt has failed, so a signal
   * made on demand (`Deadline.signal`) is never made for a request that succeeds at once.
   */
  readonly signal?: AbortSignal | (() => AbortSignal) | undefined;
}

/**
 * Runs `operation` until it succeeds, or until it throws an error `shouldRetry` refuses, or the
 * attempts run out; then that error is thrown as it is.
 */
export function retryWithBackoff<T>(
  operation: (attempt: number) => Promise<T>,
  shouldRetry: (error: unknown) => boolean,
  options: BackoffOptions,
): Promise<T> {
  // Nearly every request succeeds at its first attempt, so that one is made without p-retry, whose
  // setup per call was the largest cost omnisecret added to a request (see the README's
  // Performance section), and without an async function around it: its promise and the extra
  // turn to resume it are paid on every request. A failure goes through p-retry as its first
  // attempt, unchanged.
  let first: Promise<T>;
  try {
    first = operation(1);
  } catch (error) {
    first = Promise.reject(error);
  }
  return first.catch((error: unknown) => retryAfterFirst(error, operation, shouldRetry, options));
}

async function retryAfterFirst<T>(
  firstFailure: unknown,
  operation: (attempt: number) => Promise<T>,
  shouldRetry: (error: unknown) => boolean,
  options: BackoffOptions,
): Promise<T> {
  const attempt = (attemptNumber: number): Promise<T> => {
    if (attemptNumber === 1) return Promise.reject(firstFailure);
    return operation(attemptNumber);
  };
  const { default: pRetry } = await import("p-retry");
  const signal = typeof options.signal === "function" ? options.signal() : options.signal;
  return pRetry(attempt, {
    retries: Math.max(0, options.attempts - 1),
    minTimeout: options.initialDelayMs,
    maxTimeout: options.maxDelayMs,
    // These waits are the ones backoffDelayMs (src/kit/request.ts) draws for the SDKs that retry by themselves.
    factor: 2,
    randomize: true,
    shouldRetry: ({ error }) => shouldRetry(error),
    ...(signal ? { signal } : {}),
  });
}
