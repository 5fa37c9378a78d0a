/**
 * A passport-oauth2 state store backed by our LegStore, so `state` (and the PKCE verifier and
 * nonce that travel with it) lives in the shared store, never in a session or process memory.
 *
 * passport-oauth2 picks the call shape by arity (lib/strategy.js): `store` with 5 parameters gets
 * its own PKCE verifier, `verify` with 4 gets the metadata. Keep the parameter lists exactly as they are.
 */
import type { Request } from 'express';
import { settle } from './settle.js';
import type { LegSecrets, LegStore } from './types.js';

/** What the strategy hands the store on the start route through `options.state`. */
export interface LegStart {
  codeVerifier?: string;
  nonce?: string;
}

type StoreCallback = (err: unknown, state?: string) => void;
/** `ok` is the PKCE verifier when there is one (passport-oauth2 sends it as code_verifier), else true. */
type VerifyCallback = (err: unknown, ok?: string | boolean, state?: unknown) => void;

const LEG_SECRETS = Symbol('upstream leg secrets');
type WithLeg = Request & { [LEG_SECRETS]?: LegSecrets };

export interface LegStateStore {
  store(req: Request, verifier: string | undefined, start: LegStart | undefined, meta: unknown, callback: StoreCallback): void;
  verify(req: Request, state: unknown, meta: unknown, callback: VerifyCallback): void;
}

export function legStateStore(legs: LegStore): LegStateStore {
  return {
    // `_verifier` is passport-oauth2's own PKCE verifier, unused: the strategy makes its own (LegStart).
    store(req, _verifier, start, _meta, callback) {
      const secrets: LegSecrets = {};
      if (start?.codeVerifier) secrets.codeVerifier = start.codeVerifier;
      if (start?.nonce) secrets.nonce = start.nonce;
      settle(legs.begin(req, secrets), (state) => callback(null, state), (err) => callback(err));
    },
    verify(req, state, _meta, callback) {
      // express 5 turns a repeated `state` into an array: that is no state we issued.
      const value = typeof state === 'string' ? state : undefined;
      settle(legs.finish(req, value), (secrets) => {
        (req as WithLeg)[LEG_SECRETS] = secrets;
        callback(null, secrets.codeVerifier ?? true);
      }, (err) => callback(err));
    },
  };
}

/** The finished leg's secrets, once `verify` has burned the state of this request. */
export function legSecretsOf(req: Request): LegSecrets | undefined {
  return (req as WithLeg)[LEG_SECRETS];
}
