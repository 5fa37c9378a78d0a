/**
 * Upstream-leg state (docs/architecture.md, "A login, step by step", steps 3–4), implementing the
 * LegStore the strategies call. Kept in the shared store, never in process memory, so the callback
 * may land on any replica. Each leg is
 * - single use: `finish` takes (reads and deletes) the record atomically;
 * - bound to its interaction: the record names the uid the callback finishes;
 * - bound to the browser: a random value in an HttpOnly cookie scoped to this upstream's callback
 *   path, of which the record keeps only a hash, so a `state` replayed in another browser (or a
 *   callback URL someone forwards) finishes nobody's login.
 * The cookie name carries a digest of `state`, so two tabs may each run a leg at once.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { Records } from '../store/types.js';
import { LegStateError, type LegSecrets, type LegStore } from '../upstreams/types.js';
import type { Locale } from '../pages/index.js';
import { cookieOptions, readCookie } from './cookies.js';
import type { Paths } from './paths.js';

/** What the step that starts a leg knows about the leg it is about to begin. */
export interface PendingLeg {
  uid: string;
  /** Epoch seconds: the leg dies with its interaction. */
  expiresAt: number;
  locale: Locale;
  /** A silent recheck leg (`prompt=none`) for the session of this account; absent for a sign-in. */
  silentFor?: string;
}

/** A leg the callback finished: which interaction to complete, in which language. */
export interface Leg {
  uid: string;
  upstream: string;
  locale: Locale;
  silentFor?: string;
}

interface LegRecord {
  uid: string;
  upstream: string;
  locale: Locale;
  silentFor?: string;
  binding: string;
  expiresAt: number;
  secrets: LegSecrets;
}

export interface UpstreamLegs extends LegStore {
  /** Called by the step that starts a leg, before the strategy runs: the leg `begin` will persist. */
  prepare(req: Request, start: PendingLeg): void;
  /** The leg `finish` completed for this callback request, if any. */
  finished(req: Request): Leg | undefined;
}

export interface LegStoreOptions {
  records: Records;
  upstreamId: string;
  paths: Paths;
  /** Upper bound of a leg's life when the interaction's own expiry is further away. */
  maxTtlSeconds: number;
  now?: () => number;
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest();
// The store key is a digest of `state`, so the value sent upstream never appears in the store.
const recordKey = (state: string): string => `leg:${sha256(`key\0${state}`).toString('base64url')}`;
const cookieName = (state: string): string => `oidcb_leg_${sha256(`cookie\0${state}`).toString('base64url').slice(0, 16)}`;
const STATE = /^[A-Za-z0-9_-]{32,128}$/;

export function createLegStore(options: LegStoreOptions): UpstreamLegs {
  const { records, upstreamId, paths } = options;
  const now = options.now ?? (() => Date.now() / 1000);
  const starting = new WeakMap<Request, PendingLeg>();
  const done = new WeakMap<Request, Leg>();
  const cookie = { path: paths.callbackPath(upstreamId), secure: paths.secure, sameSite: 'lax' as const };

  return {
    prepare(req, start) {
      starting.set(req, start);
    },
    finished: (req) => done.get(req),

    async begin(req, secrets) {
      const start = starting.get(req);
      if (!start || !req.res) throw new Error(`upstream leg of "${upstreamId}" begun without prepare()`);
      const ttl = Math.min(options.maxTtlSeconds, Math.floor(start.expiresAt - now()));
      if (ttl <= 0) throw new LegStateError('expired', 'the interaction expired before the upstream leg began');
      const state = randomBytes(32).toString('base64url');
      const binding = randomBytes(32).toString('base64url');
      const record: LegRecord = {
        uid: start.uid,
        upstream: upstreamId,
        locale: start.locale,
        ...(start.silentFor === undefined ? {} : { silentFor: start.silentFor }),
        binding: sha256(binding).toString('base64url'),
        expiresAt: now() + ttl,
        secrets,
      };
      await records.set(recordKey(state), record, ttl);
      // Lax, not Strict: the callback is a top-level cross-site GET from the upstream.
      req.res.cookie(cookieName(state), binding, cookieOptions({ ...cookie, maxAgeSeconds: ttl }));
      return state;
    },

    async finish(req, state) {
      if (typeof state !== 'string' || state === '') throw new LegStateError('missing', 'the callback carries no state');
      if (!STATE.test(state)) throw new LegStateError('unknown', 'the callback state is malformed');
      const binding = readCookie(req, cookieName(state));
      const record = await records.get<LegRecord>(recordKey(state));
      if (!record || record.upstream !== upstreamId) throw new LegStateError('unknown', 'no live upstream leg has this state');
      if (record.expiresAt <= now()) throw new LegStateError('expired', 'the upstream leg expired');
      // Checked before burning, so a state replayed elsewhere cannot spoil the real browser's leg.
      if (!binding || !sameDigest(record.binding, sha256(binding))) {
        throw new LegStateError('other_browser', 'the callback came from another browser than the one that started the leg');
      }
      // The atomic take decides between two callbacks racing with the same state.
      if (!(await records.take<LegRecord>(recordKey(state)))) throw new LegStateError('unknown', 'the upstream leg was already used');
      req.res?.clearCookie(cookieName(state), cookieOptions(cookie));
      done.set(req, {
        uid: record.uid,
        upstream: record.upstream,
        locale: record.locale,
        ...(record.silentFor === undefined ? {} : { silentFor: record.silentFor }),
      });
      return record.secrets;
    },
  };
}

function sameDigest(stored: string, actual: Buffer): boolean {
  const expected = Buffer.from(stored, 'base64url');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
