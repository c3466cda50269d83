/**
 * Retry with exponential backoff and jitter, for the provider states that pass with time (a
 * name still being deleted, a throttled or sealed server). Built on p-retry.
 */
import pRetry from "p-retry";

export interface BackoffOptions {
  /** Attempts in all, the first included. */
  readonly attempts: number;
  /** Delay before the first retry, doubled each time up to `maxDelayMs`. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * Runs `operation` until it succeeds, or until it throws an error `shouldRetry` refuses, or the
 * attempts run out; then that error is thrown as it is.
 */
export async function retryWithBackoff<T>(
  operation: (attempt: number) => Promise<T>,
  shouldRetry: (error: unknown) => boolean,
  options: BackoffOptions,
): Promise<T> {
  return pRetry(operation, {
    retries: Math.max(0, options.attempts - 1),
    minTimeout: options.initialDelayMs,
    maxTimeout: options.maxDelayMs,
    factor: 2,
    randomize: true,
    shouldRetry: ({ error }) => shouldRetry(error),
  });
}
