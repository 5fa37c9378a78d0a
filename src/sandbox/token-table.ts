import { randomBytes } from 'node:crypto';

/** In-memory opaque credentials (codes, tokens) with an expiry read from the sandbox clock. */
export interface TokenTable<T> {
  issue(value: T, ttlSeconds: number): string;
  /** The value while unexpired; the entry stays. */
  peek(token: string): T | undefined;
  /** The value while unexpired, removing it: codes are single use. */
  take(token: string): T | undefined;
  /** Restarts the lifetime of a live entry. */
  extend(token: string, ttlSeconds: number): void;
  revoke(token: string): void;
}

const SWEEP_ABOVE = 10_000;

export function createTokenTable<T>(clock: () => number): TokenTable<T> {
  const entries = new Map<string, { value: T; expiresAt: number }>();

  const live = (token: string) => {
    const entry = entries.get(token);
    if (!entry) return undefined;
    if (entry.expiresAt <= clock()) {
      entries.delete(token);
      return undefined;
    }
    return entry;
  };

  const sweep = () => {
    const now = clock();
    for (const [token, entry] of entries) if (entry.expiresAt <= now) entries.delete(token);
  };

  return {
    issue(value, ttlSeconds) {
      if (entries.size > SWEEP_ABOVE) sweep();
      const token = randomBytes(16).toString('hex');
      entries.set(token, { value, expiresAt: clock() + ttlSeconds * 1000 });
      return token;
    },
    peek: (token) => live(token)?.value,
    take(token) {
      const entry = live(token);
      entries.delete(token);
      return entry?.value;
    },
    extend(token, ttlSeconds) {
      const entry = live(token);
      if (entry) entry.expiresAt = clock() + ttlSeconds * 1000;
    },
    revoke: (token) => void entries.delete(token),
  };
}
