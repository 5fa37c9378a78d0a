/**
 * openid-client's failures as UpstreamErrors with the codes operators and tests know: an issuer
 * that cannot be reached or answers 5xx is 'unavailable'; an ID token or response that fails a
 * check is 'failed'; refused client credentials or a bad discovery document are 'misconfigured'.
 * openid-client wraps oauth4webapi's error in ClientError (`code`, `cause`):
 * https://github.com/panva/openid-client/blob/v6.9.0/src/index.ts (errorHandler).
 */
import * as client from 'openid-client';
import { isTooLarge } from '../capped-fetch.js';
import { isObject, isTransientStatus } from '../fetch-json.js';
import { tokenError } from '../token-exchange.js';
import { UpstreamError, type UpstreamErrorReason } from '../types.js';

/** A discovery failure: unreachable or 5xx is worth retrying; anything else is the configuration. */
export function discoveryError(upstream: string, err: unknown): UpstreamError {
  const failure = oidcError(upstream, err);
  if (failure.reason === 'unavailable') return failure;
  const mismatch = failure.detail.code === 'issuer_mismatch';
  return new UpstreamError(
    upstream,
    'misconfigured',
    `OIDC discovery failed: ${failure.message}`,
    { code: mismatch ? 'issuer_mismatch' : 'bad_discovery' },
    { cause: err },
  );
}

export function oidcError(upstream: string, err: unknown, jwksUri?: string): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const fail = (code: string, message: string, reason: UpstreamErrorReason = 'failed') =>
    new UpstreamError(upstream, reason, message, { code }, { cause: err });
  if (isTooLarge(err)) return fail('response_too_large', 'the issuer answered too large a body', 'unavailable');
  // Token endpoint `{error}` bodies (invalid_client, invalid_grant, 5xx…): the same mapping as the oauth2 upstream.
  if (err instanceof client.ResponseBodyError) return tokenError(upstream, err.status, err.cause);
  if (err instanceof client.WWWAuthenticateChallengeError)
    return fail('userinfo_unauthorized', `the upstream refused the access token (HTTP ${err.status})`);
  // fetch itself failed: DNS, refused connection, reset.
  if (err instanceof TypeError) return fail('unreachable', 'the issuer is unreachable', 'unavailable');
  if (!(err instanceof client.ClientError)) return fail('upstream_error', 'OIDC sign-in failed');
  const inner: unknown = err.cause;
  // oauth4webapi's own error carries the details (claim, attribute) in its `cause`.
  const details = inner instanceof Error && isObject(inner.cause) ? inner.cause : isObject(inner) ? inner : {};
  const message = inner instanceof Error ? inner.message : err.message;
  switch (err.code) {
    case 'OAUTH_TIMEOUT':
      return fail('timeout', 'the issuer did not answer in time', 'unavailable');
    case 'OAUTH_RESPONSE_IS_NOT_CONFORM':
    case 'OAUTH_RESPONSE_IS_NOT_JSON': {
      const response = inner instanceof Response ? inner : undefined;
      const status = response?.status ?? 0;
      if (jwksUri !== undefined && response?.url === jwksUri)
        return fail('jwks_unavailable', "the issuer's JWKS could not be fetched", 'unavailable');
      return fail(`http_${status}`, `the issuer answered HTTP ${status}`, isTransientStatus(status) ? 'unavailable' : 'failed');
    }
    case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
      return fail(details.claim === 'exp' ? 'id_token_expired' : 'id_token_claims', `ID token refused: ${message}`);
    case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
      if (details.claim === 'nonce') return fail('id_token_nonce', 'ID token refused: nonce does not match this sign-in');
      if (details.claim === 'azp' || /additional untrusted audiences/.test(message))
        return fail('id_token_azp', 'ID token refused: azp is not this client');
      return fail('id_token_claims', `ID token refused: ${message}`);
    case 'OAUTH_KEY_SELECTION_FAILED':
      return fail('id_token_signature', "ID token refused: no key of the issuer's JWKS fits");
    case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
      if (details.attribute === 'sub') return fail('userinfo_sub_mismatch', "userinfo sub differs from the ID token's");
      if (details.attribute === 'issuer') return fail('issuer_mismatch', 'the discovery document names another issuer', 'misconfigured');
      return fail('bad_response', message);
    case 'OAUTH_INVALID_RESPONSE':
      if (/signature verification failed/.test(message)) return fail('id_token_signature', 'ID token refused: signature does not verify');
      if (/"id_token"/.test(message)) return fail('no_id_token', 'token response without id_token');
      // The request sent a nonce, so an ID token without one is not bound to this sign-in.
      if (/JWT "nonce"/.test(message)) return fail('id_token_nonce', 'ID token refused: nonce missing or not of this sign-in');
      return fail('bad_token_response', `unusable response: ${message}`);
    default:
      return fail('upstream_error', message);
  }
}
