/**
 * Redis for tests: the shared server at 127.0.0.1:6379 (each test file uses its own random key
 * prefix and deletes only those keys, never FLUSHALL/FLUSHDB), and private throwaway
 * `redis-server` processes on free ports for tests that must kill or reconfigure a server.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { spawnRedisProcess, type RedisProcess } from './redis-process.js';

export const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';

/** A fresh key prefix such as `test:3fa9c2d1e0b4:`. */
export function testPrefix(label = 'test'): string {
  return `${label}:${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key under `prefix` on 127.0.0.1:6379 (SCAN + DEL), and nothing else. */
export async function cleanupPrefix(prefix: string, url = LOCAL_REDIS_URL): Promise<void> {
  if (prefix.length < 6) throw new Error(`refusing to clean the short prefix "${prefix}"`);
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** A TCP port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const dataDirs = new Set<string>();
process.once('exit', () => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

/** Starts redis-server and resolves once it logs that it accepts connections. */
function spawnRedis(port: number, dir: string, extraArgs: string[]): Promise<RedisProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs];
  return spawnRedisProcess(args, 'Ready to accept connections');
}

export interface RedisServer {
  port: number;
  url: string;
  /** Kills the server at once (SIGKILL): what an outage looks like to the client. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: the connection stays open but nothing answers (a hung server or a partition). */
  freeze(): void;
  thaw(): void;
}

export interface RedisServerOptions {
  /** Extra redis-server arguments, given the port and the server's own data directory. */
  args?: (port: number, dir: string) => string[];
}

/** A private, throwaway redis-server on a free port (never 6379). Stop it in `after()`. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'oidc-bridge-redis-'));
  dataDirs.add(dir);
  let port = 0;
  let child: RedisProcess | undefined;
  // The port is free when picked but may be taken before redis binds it: pick again then.
  for (let attempt = 0; !child; attempt += 1) {
    port = await freePort();
    try {
      child = await spawnRedis(port, dir, options.args?.(port, dir) ?? []);
    } catch (err) {
      if (attempt >= 2) throw err;
    }
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await child?.kill();
    },
    async restart() {
      await child?.kill();
      child = await spawnRedis(port, dir, options.args?.(port, dir) ?? []);
    },
    freeze: () => child?.signal('SIGSTOP'),
    thaw: () => child?.signal('SIGCONT'),
  } satisfies RedisServer;
}
