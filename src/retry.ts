/**
 * Retry with exponential backoff and jitter, for the provider states that pass with time (a
 * name still being deleted, a throttled or sealed server). Built on p-retry, which is loaded at
 * the first failure: a process whose requests all succeed never loads it.
 */

export interface BackoffOptions {
  /** Attempts in all, the first included. */
  readonly attempts: number;
  /** Delay before the first retry, doubled each time up to `maxDelayMs`. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Stops the retries (during a backoff too) when aborted, rejecting with the signal's reason: the operation's deadline. */
  readonly signal?: AbortSignal | undefined;
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
  // Nearly every request succeeds at its first attempt, so that one is made without p-retry, whose
  // setup per call was the largest cost omnisecret added to a request (see the README's
  // Performance section). A failure goes through p-retry as its first attempt, unchanged.
  let firstFailure: unknown;
  try {
    return await operation(1);
  } catch (error) {
    firstFailure = error;
  }
  const attempt = (attemptNumber: number): Promise<T> => {
    if (attemptNumber === 1) return Promise.reject(firstFailure);
    return operation(attemptNumber);
  };
  const { default: pRetry } = await import("p-retry");
  return pRetry(attempt, {
    retries: Math.max(0, options.attempts - 1),
    minTimeout: options.initialDelayMs,
    maxTimeout: options.maxDelayMs,
    factor: 2,
    randomize: true,
    shouldRetry: ({ error }) => shouldRetry(error),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}
