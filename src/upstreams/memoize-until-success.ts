/**
 * Wraps start-up work (discovery, credential checks) so it runs once when it succeeds, and runs
 * again on the next call after a failure: an upstream that was down at start-up recovers on first
 * use. Concurrent callers share one attempt.
 */
export function memoizeUntilSuccess<T>(work: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => {
    result ??= work().catch((err: unknown) => {
      result = undefined;
      throw err;
    });
    return result;
  };
}
