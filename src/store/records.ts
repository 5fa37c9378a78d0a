import type { Backend } from './backend.js';
import type { Records } from './types.js';

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
    take: async <T>(key: string) => decode<T>(await backend.take(at(key))),
    delete: async (key: string) => backend.del(at(key)),
    async keys(prefix = '') {
      const found = await backend.scan(at(prefix));
      return found.map((key) => key.slice(namespace.length));
    },
  };
}
