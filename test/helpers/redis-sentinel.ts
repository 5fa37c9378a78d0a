/** A Redis Sentinel for tests, watching a private master (see startRedisServer) as `mymaster`. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis.js';
import { spawnRedisProcess } from './redis-process.js';

export interface RedisSentinel {
  port: number;
  masterName: string;
  stop(): Promise<void>;
}

export async function startRedisSentinel(masterPort: number, masterName = 'mymaster'): Promise<RedisSentinel> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'oidc-bridge-sentinel-'));
  const config = join(dir, 'sentinel.conf'); // sentinel rewrites its config file: it must be writable
  writeFileSync(config, `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor ${masterName} 127.0.0.1 ${masterPort} 1\n`);
  // '+monitor' is logged once it watches the master: ready to answer.
  const sentinel = await spawnRedisProcess([config, '--sentinel'], '+monitor');
  return {
    port,
    masterName,
    async stop() {
      await sentinel.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
