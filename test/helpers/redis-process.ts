/**
 * Spawns redis-server (or a sentinel) so that it can never outlive the test process: a small
 * shell watchdog holds our stdin pipe and SIGKILLs redis when the pipe closes, which happens
 * however this process ends (even SIGKILL, when no exit hook runs).
 */
import { spawn } from 'node:child_process';

const WATCHDOG = [
  'exec 3<&0',
  'redis-server "$@" </dev/null &',
  'pid=$!',
  'echo "watchdog: redis pid $pid"',
  '( read _ <&3; kill -9 $pid 2>/dev/null ) &',
  'reader=$!',
  'wait $pid',
  'status=$?',
  'kill $reader 2>/dev/null',
  'exit $status',
].join('\n');

export interface RedisProcess {
  /** SIGKILLs redis and resolves once it is gone; harmless when already stopped. */
  kill(): Promise<void>;
  /** Sends a signal to redis itself (SIGSTOP / SIGCONT to simulate a hung server). */
  signal(signal: NodeJS.Signals): void;
}

/** Starts redis with `args`; resolves once its output contains `readyText`. */
export function spawnRedisProcess(args: string[], readyText: string): Promise<RedisProcess> {
  const shell = spawn('sh', ['-c', WATCHDOG, 'redis-watchdog', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => shell.once('exit', () => resolve()));
  let pid = 0;
  let output = '';
  const handle: RedisProcess = {
    async kill() {
      if (shell.exitCode === null && shell.signalCode === null) {
        if (pid) process.kill(pid, 'SIGKILL');
        shell.stdin.end();
      }
      await exited;
    },
    signal(signal) {
      if (pid) process.kill(pid, signal);
    },
  };
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      pid ||= Number(/watchdog: redis pid (\d+)/.exec(output)?.[1] ?? 0);
      if (output.includes(readyText)) {
        shell.stdout.off('data', onData);
        shell.stdout.resume(); // keep draining: a full pipe would block redis
        resolve(handle);
      }
    };
    shell.stdout.on('data', onData);
    shell.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    shell.once('error', reject);
    void exited.then(() => reject(new Error(`redis exited before it was ready (${args.join(' ')}):\n${output}`)));
  });
}
