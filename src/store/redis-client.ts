import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { reconnectDelay, type RedisClient } from './redis-connection.js';

export interface RedisNode {
  host: string;
  port: number;
}

/**
 * How to reach Redis. Exactly one topology: standalone (`url`), Sentinel (`sentinels` +
 * `sentinelName`) or Cluster (`cluster.nodes`). For Sentinel and Cluster the URL's host is not
 * used, but its credentials, database (Sentinel only) and `rediss://` (TLS) still apply.
 */
export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port/db`, `rediss://` for TLS. Default `redis://127.0.0.1:6379`. */
  url?: string;
  /**
   * Written in front of every key (e.g. "oidc-bridge:"), so deployments can share one Redis.
   * Keep hash tags (`{…}`) out of it: they would pin every key to a single Cluster slot.
   */
  keyPrefix: string;
  /** Redis Sentinel: the sentinels to ask for the master named `sentinelName`. */
  sentinels?: RedisNode[];
  sentinelName?: string;
  /** Password of the sentinels themselves, when they require one (the data nodes use `password`). */
  sentinelPassword?: string;
  /** Redis Cluster: seed nodes; the rest are discovered. */
  cluster?: { nodes: RedisNode[] };
  /** TLS even with a `redis://` URL (a `rediss://` URL turns it on by itself). */
  tls?: boolean;
  /** Override the URL's credentials. */
  username?: string;
  password?: string;
  /** Milliseconds allowed for one (re)connect attempt. Default 2000. */
  connectTimeoutMs?: number;
  /** Milliseconds before a command that got no reply fails (half-open connections). Default 2000. */
  commandTimeoutMs?: number;
  /** Milliseconds a call made while a connection attempt is in flight waits for it before failing with StoreUnavailableError. Default 1000. */
  readyWaitMs?: number;
}

function validate(options: RedisStoreOptions): void {
  if (typeof options.keyPrefix !== 'string') throw new TypeError('store.keyPrefix must be a string');
  if (options.sentinels && options.cluster) throw new TypeError('store: choose either sentinel or cluster, not both');
  if (options.sentinels && !options.sentinelName) throw new TypeError('store: a sentinel setup needs the master name');
  if (options.url !== undefined && !/^rediss?:\/\//.test(options.url)) {
    throw new TypeError('store.url must be a redis:// or rediss:// URL');
  }
}

/** Credentials and TLS from the URL, overridden by explicit options. */
function credentials(options: RedisStoreOptions): { username?: string; password?: string; tls: boolean } {
  const url = options.url ? new URL(options.url) : undefined;
  const fromUrl = (part: string | undefined): string | undefined => (part ? decodeURIComponent(part) : undefined);
  return {
    username: options.username ?? fromUrl(url?.username),
    password: options.password ?? fromUrl(url?.password),
    tls: options.tls === true || url?.protocol === 'rediss:',
  };
}

/**
 * Fail fast instead of queueing: no offline queue and one retry per command, so an outage
 * answers 503 at once rather than hanging requests; reconnection itself never stops.
 * Auto-pipelining (https://github.com/redis/ioredis#autopipelining), on a single node or Sentinel
 * only, sends the commands issued in one event-loop tick as one write: under load a request's store
 * calls and other requests' share the socket writes, about a tenth less CPU per request on Redis in
 * bench/ (bench/RESULTS.md). A command waits for the batch in flight before its own goes out, so
 * its worst case is two command timeouts. Not on a Cluster: ioredis follows a MOVED or ASK reply in
 * a pipeline only when every command of it is a read, and an auto-pipeline mixes requests' writes,
 * so a resharding would fail requests that plain commands would have redirected.
 */
function commonOptions(options: RedisStoreOptions) {
  const { username, password, tls } = credentials(options);
  return {
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(tls ? { tls: {} } : {}),
    connectTimeout: options.connectTimeoutMs ?? 2000,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    maxRetriesPerRequest: 1,
  } satisfies RedisOptions;
}

/** The ioredis constructor arguments for these options (pure: tests check the mapping). */
export function redisClientConfig(
  options: RedisStoreOptions,
): { topology: 'cluster'; nodes: RedisNode[]; options: ClusterOptions } | { topology: 'standalone' | 'sentinel'; options: RedisOptions } {
  validate(options);
  const common = commonOptions(options);
  if (options.cluster) {
    return {
      topology: 'cluster',
      nodes: options.cluster.nodes,
      options: {
        enableOfflineQueue: false,
        clusterRetryStrategy: reconnectDelay,
        slotsRefreshTimeout: common.connectTimeout,
        redisOptions: common,
      },
    };
  }
  const sentinel = options.sentinels
    ? {
        sentinels: options.sentinels,
        name: options.sentinelName,
        ...(options.sentinelPassword ? { sentinelPassword: options.sentinelPassword } : {}),
        enableTLSForSentinelMode: 'tls' in common,
      }
    : {};
  return {
    topology: options.sentinels ? 'sentinel' : 'standalone',
    options: {
      ...address(options.url),
      ...common,
      ...sentinel,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      retryStrategy: reconnectDelay,
    },
  };
}

export function createRedisClient(options: RedisStoreOptions): RedisClient {
  const config = redisClientConfig(options);
  return config.topology === 'cluster' ? new Cluster(config.nodes, config.options) : new Redis(config.options);
}

/** Host, port and database of the URL (credentials and TLS: see `credentials`). */
function address(url = 'redis://127.0.0.1:6379'): { host: string; port: number; db: number } {
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new TypeError('store.url: the path must be a database number');
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    db,
  };
}
