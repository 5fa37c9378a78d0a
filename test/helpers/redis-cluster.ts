/**
 * A local Redis Cluster for tests: three masters (no replicas) on free ports, each a private
 * redis-server with its own data directory, joined with `redis-cli --cluster create`.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort, startRedisServer, type RedisServer } from './redis.js';

export interface RedisCluster {
  nodes: { host: string; port: number }[];
  stop(): Promise<void>;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} exited with ${code}:\n${output}`))));
  });
}

/** Polls CLUSTER INFO on every node until all of them report cluster_state:ok. */
export async function waitForClusterOk(ports: number[], timeoutMs = 15_000): Promise<void> {
  const clients = ports.map((port) => new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 }));
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const infos = await Promise.all(clients.map((client) => client.cluster('INFO')));
      if (infos.every((info) => info.includes('cluster_state:ok'))) return;
      if (Date.now() > deadline) throw new Error(`cluster not ok after ${timeoutMs} ms:\n${infos.join('\n')}`);
      await delay(50); // poll interval between two CLUSTER INFO rounds
    }
  } finally {
    for (const client of clients) client.disconnect();
  }
}

/** A redis-server in cluster mode, in no cluster yet. */
async function startClusterNode(): Promise<RedisServer> {
  // An explicit bus port: the default (port + 10000) may be taken or above 65535.
  const busPort = await freePort();
  return startRedisServer({
    args: (port, dir) => [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, `nodes-${port}.conf`),
      '--cluster-port',
      String(busPort),
    ],
  });
}

/**
 * One redis-server in cluster mode owning every slot, reached at one address: what a client
 * configured for a single node meets behind a managed "cluster edition" or a cluster-mode node.
 */
export async function startSingleNodeCluster(): Promise<RedisServer> {
  const server = await startClusterNode();
  try {
    await run('redis-cli', ['-p', String(server.port), 'CLUSTER', 'ADDSLOTSRANGE', '0', '16383']);
    await waitForClusterOk([server.port]);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

export async function startRedisCluster(size = 3): Promise<RedisCluster> {
  const servers: RedisServer[] = [];
  try {
    for (let i = 0; i < size; i += 1) servers.push(await startClusterNode());
    const addresses = servers.map((server) => `127.0.0.1:${server.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
    await waitForClusterOk(servers.map((server) => server.port));
  } catch (err) {
    await Promise.all(servers.map((server) => server.stop()));
    throw err;
  }
  return {
    nodes: servers.map((server) => ({ host: '127.0.0.1', port: server.port })),
    async stop() {
      await Promise.all(servers.map((server) => server.stop()));
    },
  };
}
