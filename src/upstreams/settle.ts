/**
 * Hands a promise's outcome to callback-style code (passport) exactly once.
 * The callbacks run on their own tick, outside the promise chain: a throw inside them surfaces
 * as an ordinary exception instead of being swallowed or routed to `onError` a second time.
 */
export function settle<T>(promise: Promise<T>, onValue: (value: T) => void, onError: (err: unknown) => void): void {
  promise.then(
    (value) => process.nextTick(onValue, value),
    (err: unknown) => process.nextTick(onError, err),
  );
}
