/**
 * The app (organisation) token that every org lookup presents. DingTalk throttles frequent token
 * fetches and hands out the same token while it is valid (docs/reference/dingtalk.md), so it is fetched
 * once and kept in the SHARED store for every replica, a little shorter than DingTalk keeps it.
 * A miss is filled by one caller across all replicas: the store lock picks the fetcher, the others
 * wait for its token (bounded; a fetcher that died is replaced). A token DingTalk rejects (40014)
 * is dropped, so the next call fetches a new one.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Store } from '../../store/types.js';
import type { UpstreamError } from '../types.js';
import { upstreamErrorFor } from './classify.js';
import { DingTalkCallError, isRetryable, isThrottled, type DingTalkClient } from './client.js';
import { API, APP_TOKEN_EARLY_RENEW_SECONDS, APP_TOKEN_POLL_MS, appTokenKey, appTokenLockName, ERRCODE } from './constants.js';
import { dingtalkError } from './messages.js';

export interface AppTokenOptions {
  upstream: string;
  appKey: string;
  appSecret: string;
  client: DingTalkClient;
  store: Store;
  timeoutMs: number;
  now: () => number;
}

export interface AppTokens {
  get(): Promise<string>;
  /** DingTalk rejected `token`: drop it from the shared cache unless another replica already replaced it. */
  invalidate(token: string): Promise<void>;
}

interface Cached {
  token: string;
  /** Epoch ms at which DingTalk said it expires. */
  expiresAt: number;
}

interface Fetched {
  token: string;
  expireIn: number;
}

export function createAppTokens(options: AppTokenOptions): AppTokens {
  const { store, appKey, now } = options;
  const key = appTokenKey(appKey);
  // A fetch may be retried once: the lock and the wait cover two timeouts and some slack.
  const waitMs = 2 * options.timeoutMs + 1000;
  let inFlight: Promise<string> | undefined;

  const cached = async () => (await store.ephemeral.get<Cached>(key))?.token;

  async function fetchAndKeep(): Promise<string> {
    const { token, expireIn } = await fetchAppToken(options);
    const ttl =
      expireIn > 2 * APP_TOKEN_EARLY_RENEW_SECONDS ? expireIn - APP_TOKEN_EARLY_RENEW_SECONDS : Math.max(1, Math.floor(expireIn / 2));
    await store.ephemeral.set<Cached>(key, { token, expiresAt: now() + expireIn * 1000 }, ttl);
    return token;
  }

  async function fill(): Promise<string> {
    const deadline = now() + waitMs;
    for (;;) {
      const token = await cached();
      if (token) return token;
      const lock = await store.lock(appTokenLockName(appKey), Math.ceil(waitMs / 1000));
      if (lock) {
        try {
          return (await cached()) ?? (await fetchAndKeep());
        } finally {
          await lock.release();
        }
      }
      // The holder stalled or died: fetching twice beats failing the login.
      if (now() >= deadline) return fetchAndKeep();
      await delay(APP_TOKEN_POLL_MS);
    }
  }

  return {
    async get() {
      const token = await cached();
      if (token) return token;
      // One fill per process at a time; the lock spreads that to every replica.
      inFlight ??= fill().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    async invalidate(token) {
      if ((await cached()) === token) await store.ephemeral.delete(key);
    },
  };
}

async function fetchAppToken(options: AppTokenOptions): Promise<Fetched> {
  const { client, appKey, appSecret } = options;
  try {
    const body = await client.api({ method: 'POST', path: API.appAccessToken, json: { appKey, appSecret } }, { retry: true });
    return readToken(options, body.accessToken, body.expireIn);
  } catch (err) {
    throw err instanceof DingTalkCallError ? appTokenError(options, err) : err;
  }
}

function readToken(options: AppTokenOptions, token: unknown, expireIn: unknown): Fetched {
  if (typeof token !== 'string' || token === '') throw dingtalkError(options.upstream, 'bad_response', { params: { api: 'app token' } });
  const seconds = typeof expireIn === 'number' && Number.isFinite(expireIn) && expireIn > 0 ? expireIn : 7200;
  return { token, expireIn: seconds };
}

/** Outages, throttling and the IP allow-list keep their meaning; any other refusal is about the app's credentials. */
function appTokenError(options: AppTokenOptions, err: DingTalkCallError): UpstreamError {
  const general = upstreamErrorFor(options.upstream, err, options.timeoutMs);
  const passThrough =
    isRetryable(err) ||
    isThrottled(err) ||
    err.code === 'bad_response' ||
    err.status === 404 ||
    err.errcode === ERRCODE.ipNotAllowed ||
    /IpNotInWhiteList/i.test(err.code);
  return passThrough
    ? general
    : dingtalkError(options.upstream, 'bad_app_credentials', { code: err.code, params: { api: err.api }, cause: err });
}
