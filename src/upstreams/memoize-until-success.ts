/**
 * Wraps start-up work (discovery, credential checks) so it runs once when it succeeds, and runs
 * again on the next call after a failure: an upstream that was down at start-up recovers on first
 * use. With `maxAgeMs` a success is kept only that long (a discovery document is re-read). Concurrent
 * callers share one attempt.
 */
export function memoizeUntilSuccess<T>(work: () => Promise<T>, maxAgeMs = Infinity, now: () => number = Date.now): () => Promise<T> {
  let result: Promise<T> | undefined;
  let expiresAt = Infinity;
  return () => {
    if (result && now() >= expiresAt) result = undefined;
    if (!result) {
      expiresAt = now() + maxAgeMs;
      result = work().catch((err: unknown) => {
        result = undefined;
        throw err;
      });
    }
    return result;
  };
}
