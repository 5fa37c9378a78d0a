/**
 * A clock for the memory store that runs with real time plus an offset the test controls: a TTL
 * (a refresh token's grace window, a cached record) can be made to pass at once instead of
 * sleeping past it, and a window a test needs open stays open however slow the machine is.
 */
export interface TestClock {
  /** Epoch ms: real time plus everything `advance` added (a plain function: pass it as a store's clock). */
  now: () => number;
  advance: (ms: number) => void;
}

export function testClock(): TestClock {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance(ms) {
      offset += ms;
    },
  };
}

/**
 * `auth_time`, `max_age` and session lifetimes count whole seconds: waits (at most a second) until
 * the real clock is past `epochSeconds`, so a new login gets a strictly later auth_time. A wait for
 * time, not for readiness.
 */
export async function clockPast(epochSeconds: number): Promise<void> {
  const ms = (epochSeconds + 1) * 1000 - Date.now();
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms + 5));
}
