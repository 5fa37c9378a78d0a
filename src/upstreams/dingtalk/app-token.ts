/**
 * The app (organisation) token that every org lookup presents. DingTalk throttles frequent token
 * fetches and hands out the same token while it is valid (docs/reference/dingtalk.md), so it is fetched
 * once and kept in the SHARED store for every replica, a little shorter than DingTalk keeps it.
 * A miss is filled by one caller across all replicas: the store lock picks the fetcher, the others
 * wait for its token (bounded; a fetcher that died is replaced). A token DingTalk rejects (40014)
 * is dropped, so the next call fetches a new one.
 *
 * The token is a credential for the organisation's contacts, so it is kept encrypted when
 * `store.encryptionKeys` is set (src/store/sealed-records.ts). A token kept in the clear, or under a
 * key that is no longer the first, is rewritten under the current key when read; one that cannot be
 * decrypted (its key was removed) is only a cache miss: a warning, and a fresh token.
 *
 * Each process also keeps the token it last read or fetched, until the shared copy's own renewal
 * time: a login makes several org lookups, each of which read the store (and decrypted the token),
 * about 3.6 reads per login in bench/ (bench/RESULTS.md). DingTalk hands out the same token
 * while it is valid, so a replica's copy stays good until then; one DingTalk rejects is dropped here
 * as in the store.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { sealRecords, SealedRecordError, type Opened, type SealedRecords } from '../../store/sealed-records.js';
import type { Store } from '../../store/types.js';
import type { UpstreamError } from '../types.js';
import { upstreamErrorFor } from './classify.js';
import { DingTalkCallError, isRetryable, isThrottled, type DingTalkClient, type DingTalkLog } from './client.js';
import { API, APP_TOKEN_EARLY_RENEW_SECONDS, APP_TOKEN_POLL_MS, appTokenKey, appTokenLockName, ERRCODE } from './constants.js';
import { dingtalkError } from './messages.js';

export interface AppTokenOptions {
  upstream: string;
  appKey: string;
  appSecret: string;
  client: DingTalkClient;
  store: Store;
  /** Where the token is kept: `store.ephemeral`, sealed with `store.encryptionKeys` (default: in the clear). */
  secrets?: SealedRecords;
  log: DingTalkLog;
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
  /** This process's copy, good while `now()` is before `renewAt`. */
  let local: { token: string; renewAt: number } | undefined;
  /** The last token DingTalk rejected: never kept again, even if a read races its deletion. */
  let rejected: string | undefined;
  const keep = (value: Cached) => {
    if (value.token === rejected) return;
    local = { token: value.token, renewAt: value.expiresAt - APP_TOKEN_EARLY_RENEW_SECONDS * 1000 };
  };

  const secrets = options.secrets ?? sealRecords(store.ephemeral, []);

  async function read(): Promise<Opened<Cached> | undefined> {
    try {
      return await secrets.get<Cached>(key);
    } catch (err) {
      if (!(err instanceof SealedRecordError)) throw err;
      options.log.warn(
        { upstream: options.upstream, reason: err.message },
        'the cached DingTalk app token cannot be read; fetching a new one',
      );
      return undefined;
    }
  }

  async function cached(): Promise<string | undefined> {
    if (local && now() < local.renewAt) return local.token;
    const found = await read();
    if (found?.stale) {
      // Kept in the clear or under an older key: rewritten under the current key, for what is left of its TTL.
      const left = Math.floor((found.value.expiresAt - now()) / 1000) - APP_TOKEN_EARLY_RENEW_SECONDS;
      if (left > 0) await secrets.set<Cached>(key, found.value, left);
    }
    if (found) keep(found.value);
    return found?.value.token;
  }

  async function fetchAndKeep(): Promise<string> {
    const { token, expireIn } = await fetchAppToken(options);
    const ttl =
      expireIn > 2 * APP_TOKEN_EARLY_RENEW_SECONDS ? expireIn - APP_TOKEN_EARLY_RENEW_SECONDS : Math.max(1, Math.floor(expireIn / 2));
    const value = { token, expiresAt: now() + expireIn * 1000 };
    await secrets.set<Cached>(key, value, ttl);
    keep(value);
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
      rejected = token;
      if (local?.token === token) local = undefined;
      if ((await read())?.value.token === token) await secrets.delete(key);
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
