import { setTimeout as delay } from 'node:timers/promises';
import type { Backend } from './backend.js';
import { RecordContendedError, type Records } from './types.js';

/**
 * Lost compare-and-set races `update` retries before giving up. Each retry rereads, so only a
 * record rewritten continuously by others (dozens of writers at once) runs out; the jittered
 * backoff between attempts keeps those writers from retrying in lockstep.
 */
const UPDATE_ATTEMPTS = 32;
const backoffMs = (attempt: number): number => Math.min(50, 2 ** attempt) * (0.5 + Math.random());

/** Seconds → milliseconds, refusing TTLs that would make a record expire at once or never. */
export function recordTtlMs(ttlSeconds: number | undefined): number | undefined {
  if (ttlSeconds === undefined) return undefined;
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`a record TTL must be a positive number of seconds, got ${ttlSeconds}`);
  }
  return Math.ceil(ttlSeconds * 1000);
}

function encode(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError('a record value must be JSON-serialisable (got undefined or a function)');
  return json;
}

const decode = <T>(raw: string | undefined): T | undefined => (raw === undefined ? undefined : (JSON.parse(raw) as T));

/** JSON records under `namespace` (`tmp:` or `acct:`); keys handed out are without it. */
export function createRecords(backend: Backend, namespace: string): Records {
  const at = (key: string): string => namespace + key;
  return {
    get: async <T>(key: string) => decode<T>(await backend.get(at(key))),
    set: async <T>(key: string, value: T, ttlSeconds?: number) => backend.set(at(key), encode(value), recordTtlMs(ttlSeconds)),
    add: async <T>(key: string, value: T, ttlSeconds?: number) => backend.setIfAbsent(at(key), encode(value), recordTtlMs(ttlSeconds)),
    async update<T>(key: string, next: (current: T | undefined) => T | undefined): Promise<T | undefined> {
      for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt += 1) {
        if (attempt > 0) await delay(backoffMs(attempt));
        const raw = await backend.get(at(key));
        const current = decode<T>(raw);
        const value = next(current);
        if (value === current) return current;
        const json = encode(value);
        const stored =
          raw === undefined ? await backend.setIfAbsent(at(key), json, undefined) : await backend.replaceIfEquals(at(key), raw, json);
        if (stored) return value;
      }
      throw new RecordContendedError(namespace + key);
    },
    take: async <T>(key: string) => decode<T>(await backend.take(at(key))),
    delete: async (key: string) => backend.del(at(key)),
    async keys(prefix = '') {
      const found = await backend.scan(at(prefix));
      return found.map((key) => key.slice(namespace.length));
    },
  };
}
