/**
 * A one-off look at the configured Redis for `oidc-bridge doctor`: can it be reached, and what
 * does each master say about eviction (`INFO memory`, which managed Redis services answer even
 * where CONFIG is disabled). Nothing is written.
 */
import { createRedisClient, type RedisStoreOptions } from './redis-client.js';
import { RedisConnection } from './redis-connection.js';

export interface RedisNodeInfo {
  /** host:port of the master. */
  node: string;
  maxmemoryPolicy?: string;
  /** Bytes; 0 means no limit (nothing is ever evicted). */
  maxmemory?: number;
}

export type RedisInspection = { reachable: true; nodes: RedisNodeInfo[] } | { reachable: false; reason: string; cause?: unknown };

export async function inspectRedis(options: RedisStoreOptions, timeoutMs: number): Promise<RedisInspection> {
  const connection = new RedisConnection(
    createRedisClient({ ...options, connectTimeoutMs: timeoutMs, commandTimeoutMs: timeoutMs }),
    timeoutMs,
  );
  try {
    await connection.run((client) => client.ping());
    const nodes = await connection.run(() =>
      Promise.all(
        connection.masters().map(async (master) => {
          const info = parseInfo(await master.info('memory'));
          const maxmemory = info.maxmemory === undefined ? undefined : Number(info.maxmemory);
          return {
            node: `${master.options.host ?? '?'}:${master.options.port ?? '?'}`,
            ...(info.maxmemory_policy ? { maxmemoryPolicy: info.maxmemory_policy } : {}),
            ...(maxmemory !== undefined && Number.isFinite(maxmemory) ? { maxmemory } : {}),
          };
        }),
      ),
    );
    return { reachable: true, nodes };
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause ?? err;
    return { reachable: false, reason: err instanceof Error ? err.message : String(err), cause };
  } finally {
    await connection.close();
  }
}

function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return fields;
}
