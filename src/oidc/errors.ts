import { errors } from 'oidc-provider';
import { AlreadyConsumedError, StoreUnavailableError } from '../store/types.js';

/**
 * RFC 6749 `temporarily_unavailable` as a 503 the provider renders itself: its error handlers
 * take `statusCode` and, because `expose` is set, keep the code instead of answering a generic
 * `server_error` 500 (https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/helpers/err_out.js).
 */
export class TemporarilyUnavailableError extends errors.OIDCProviderError {
  constructor(description = 'the service is temporarily unavailable, try again shortly', options?: { cause?: unknown }) {
    super(503, 'temporarily_unavailable', options);
    this.error_description = description;
    this.expose = true;
  }
}

/**
 * What the provider should throw for a store failure: an outage becomes 503
 * `temporarily_unavailable`; a lost `consume()` race becomes `invalid_grant` (the code or
 * refresh token was redeemed by a concurrent request). Anything else is left alone.
 */
export function providerErrorFor(err: unknown): unknown {
  if (err instanceof StoreUnavailableError) {
    return new TemporarilyUnavailableError('the session store is unreachable, try again shortly', { cause: err });
  }
  if (err instanceof AlreadyConsumedError) {
    return new errors.InvalidGrant({ detail: `${err.model} already consumed by a concurrent request`, cause: err });
  }
  return err;
}

/** Runs a store call, translating its failures for the provider (see providerErrorFor). */
export async function viaProvider<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw providerErrorFor(err);
  }
}
