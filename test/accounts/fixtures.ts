/** Shared helpers of the accounts tests: identities, a capturing logger, the two real stores. */
import { openMemoryStore } from '../../src/store/memory.js';
import { openRedisStore } from '../../src/store/redis.js';
import type { Store } from '../../src/store/types.js';
import type { UpstreamIdentity, UsernameHint } from '../../src/upstreams/types.js';
import type { AccountsLog } from '../../src/accounts/types.js';
import type { UsernamesConfig } from '../../src/accounts/usernames.js';
import { LOCAL_REDIS_URL, cleanupPrefix, testPrefix } from '../helpers/redis.js';

export const CORP = 'dingtalk:ding0123456789';

/** A DingTalk-like identity; `key` is the unionId (linkKey and subject). */
export function dingtalkIdentity(
  key: string,
  options: Partial<UpstreamIdentity> & { hints?: UsernameHint[]; userid?: string } = {},
): UpstreamIdentity {
  const { hints, userid, extra, ...rest } = options;
  return {
    upstream: 'dingtalk',
    subject: key,
    linkDomain: CORP,
    linkKey: key,
    usernameHints: hints ?? [],
    groups: [],
    ...rest,
    extra: { dingtalk_unionid: key, ...(userid ? { dingtalk_userid: userid } : {}), ...extra },
  };
}

export function usernamesConfig(overrides: Partial<UsernamesConfig> = {}): UsernamesConfig {
  return { candidates: ['orgEmail', 'pinyin', 'jobNumber', 'userid', 'hash'], reserved: [], pins: {}, ...overrides };
}

export interface CapturedLog extends AccountsLog {
  lines: { level: 'info' | 'warn'; obj: Record<string, unknown>; msg?: string }[];
  audits(kind: string): Record<string, unknown>[];
}

export function captureLog(): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  return {
    lines,
    info: (obj, msg) => {
      lines.push({ level: 'info', obj, ...(msg ? { msg } : {}) });
    },
    warn: (obj, msg) => {
      lines.push({ level: 'warn', obj, ...(msg ? { msg } : {}) });
    },
    audits: (kind) => lines.filter((l) => l.obj.audit === kind).map((l) => l.obj),
  };
}

/** Stores sharing one set of data, as replicas share one Redis. */
export interface Replicas {
  /** Opens one more store on the shared data (for Redis: a new connection, as another replica would). */
  open(): Store;
  /** Closes every store opened and removes the Redis keys written. */
  close(): Promise<void>;
}

/** A store backend under test; each `fresh()` starts from empty data. */
export interface StoreKind {
  name: 'memory' | 'redis';
  fresh(): Replicas;
}

export const STORE_KINDS: StoreKind[] = [
  {
    name: 'memory',
    fresh() {
      // One process holds one memory store: "another replica" is the same instance.
      const store = openMemoryStore();
      return { open: () => store, close: () => store.close() };
    },
  },
  {
    name: 'redis',
    fresh() {
      const prefix = testPrefix('test:accounts');
      const opened: Store[] = [];
      return {
        open() {
          const store = openRedisStore({ url: LOCAL_REDIS_URL, keyPrefix: prefix });
          opened.push(store);
          return store;
        },
        async close() {
          await Promise.all(opened.splice(0).map((s) => s.close()));
          await cleanupPrefix(prefix);
        },
      };
    },
  },
];
