import { Cluster, type Redis, ReplyError } from 'ioredis';
import { StoreUnavailableError, type StoreHealth } from './types.js';

export type RedisClient = Redis | Cluster;

/**
 * Reply errors that mean "cannot serve right now" rather than "bad command": a cluster without
 * quorum, a replica mid-failover, a server loading its dataset, rejected credentials.
 */
const UNAVAILABLE_REPLY = /^(CLUSTERDOWN|LOADING|MASTERDOWN|TRYAGAIN|READONLY|NOAUTH|WRONGPASS|NOPERM|BUSY)\b/;

/** Connection loss, timeouts and refused commands become StoreUnavailableError; bugs stay as they are. */
function toStoreError(err: unknown): unknown {
  if (err instanceof StoreUnavailableError) return err;
  if (err instanceof ReplyError && !UNAVAILABLE_REPLY.test((err as Error).message)) return err;
  return new StoreUnavailableError(undefined, { cause: err });
}

const CONNECTING = new Set(['wait', 'connecting', 'connect']);

/** Capped exponential backoff with jitter; never gives up, so the store recovers by itself. */
export function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 6), 2000) + Math.floor(Math.random() * 100);
}

/**
 * One ioredis client plus what the store needs around it: health from the client's own events
 * ('ready' up; 'close'/'end' down), and `run`, which fails fast with StoreUnavailableError while
 * the client is not ready (after waiting up to `readyWaitMs` for a connection attempt in flight).
 */
export class RedisConnection {
  private state: StoreHealth = 'down';
  /** Whether listeners have heard of `state`: the first 'down' (Redis unreachable at start) is news too. */
  private announced = false;
  private closed = false;
  private lastError: unknown;
  private readonly listeners = new Set<(health: StoreHealth, cause?: unknown) => void>();
  private readonly waiters = new Map<() => void, (err: Error) => void>();

  constructor(
    readonly client: RedisClient,
    private readonly readyWaitMs: number,
  ) {
    // Without an 'error' listener ioredis would crash the process on the first refused connection.
    client.on('error', (err: unknown) => {
      this.lastError = err;
      // Redis unreachable (or refusing our credentials) from the start: say so, with the cause,
      // rather than wait for the first request to fail.
      if (!this.announced) this.setHealth('down', err);
    });
    client.on('ready', () => this.setHealth('up'));
    client.on('close', () => this.setHealth('down'));
    client.on('end', () => this.setHealth('down'));
  }

  health(): StoreHealth {
    return this.state;
  }

  onHealthChange(listener: (health: StoreHealth, cause?: unknown) => void): void {
    this.listeners.add(listener);
    // Redis refused before this listener came (the bridge subscribes after its other start-up
    // work): it still hears that the store is down, once, unless that has changed meanwhile.
    if (this.announced && this.state === 'down') {
      queueMicrotask(() => {
        if (!this.closed && this.state === 'down' && this.listeners.has(listener)) listener('down', this.lastError);
      });
    }
  }

  /**
   * Runs one or more commands; every failure to reach Redis surfaces as StoreUnavailableError.
   * While down, a call waits only if a connection attempt is in flight (start-up, or Redis just
   * came back); between attempts it fails at once rather than pile up behind the backoff.
   */
  async run<T>(command: (client: RedisClient) => Promise<T>): Promise<T> {
    if (this.state !== 'up') {
      if (this.closed) throw new StoreUnavailableError('the session store is closed');
      if (!CONNECTING.has(this.client.status)) throw new StoreUnavailableError(undefined, { cause: this.lastError });
      await this.waitReady();
    }
    try {
      return await command(this.client);
    } catch (err) {
      throw toStoreError(err);
    }
  }

  /** A Cluster: a script may only touch keys of one slot. */
  get isCluster(): boolean {
    return this.client instanceof Cluster;
  }

  /** Where a keyspace-wide SCAN must go: the client itself, or every Cluster master. */
  masters(): Redis[] {
    return this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    for (const reject of this.waiters.values()) reject(new StoreUnavailableError('the session store is closed'));
    this.waiters.clear();
    if (this.client.status === 'ready') {
      await this.client.quit().catch(() => this.client.disconnect());
    } else {
      this.client.disconnect();
    }
  }

  private setHealth(next: StoreHealth, cause?: unknown): void {
    if (this.closed || (next === this.state && this.announced)) return;
    this.state = next;
    this.announced = true;
    if (next === 'up') for (const resolve of [...this.waiters.keys()]) resolve();
    for (const listener of this.listeners) {
      try {
        listener(next, cause);
      } catch {
        // A listener's failure must not break the client's event handling.
      }
    }
  }

  private waitReady(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onReady = (): void => {
        clearTimeout(timer);
        this.waiters.delete(onReady);
        resolve();
      };
      const onFail = (err: Error): void => {
        clearTimeout(timer);
        this.waiters.delete(onReady);
        reject(err);
      };
      const timer = setTimeout(() => onFail(new StoreUnavailableError(undefined, { cause: this.lastError })), this.readyWaitMs);
      this.waiters.set(onReady, onFail);
    });
  }
}
