/**
 * ID token validation (OIDC Core 3.1.3.7): signature against the issuer's JWKS with the
 * algorithms discovery announced, `iss`, `aud` containing our client id, `exp`, the leg's `nonce`
 * and `azp`. A JWKS the issuer cannot serve is 'unavailable'; a token that fails a check is 'failed'.
 */
import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { UpstreamError } from '../types.js';

export interface IdTokenExpectations {
  upstream: string;
  issuer: string;
  clientId: string;
  algorithms: string[];
  jwks: JWTVerifyGetKey;
  /** The nonce sent with this leg. */
  nonce: string | undefined;
}

// Clocks of upstream and bridge drift; half a minute is what most RPs allow.
const CLOCK_TOLERANCE_SECONDS = 30;

export async function verifyIdToken(idToken: string, expect: IdTokenExpectations): Promise<JWTPayload & { sub: string }> {
  const refuse = (message: string, code: string, cause?: unknown) =>
    new UpstreamError(expect.upstream, 'failed', `ID token refused: ${message}`, { code }, { cause });
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, expect.jwks, {
      issuer: expect.issuer,
      audience: expect.clientId,
      algorithms: expect.algorithms,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['sub', 'exp', 'iat'],
    }));
  } catch (err) {
    throw joseFailure(expect.upstream, err, refuse);
  }
  // We always send a nonce: a leg without one, or a token without the same one, is a replay risk.
  if (!expect.nonce || payload.nonce !== expect.nonce) throw refuse('nonce does not match this sign-in', 'id_token_nonce');
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if ((audiences.length > 1 || payload.azp !== undefined) && payload.azp !== expect.clientId) {
    throw refuse('azp is not this client', 'id_token_azp');
  }
  if (typeof payload.sub !== 'string' || payload.sub === '') throw refuse('no sub', 'id_token_claims');
  return payload as JWTPayload & { sub: string };
}

type Refuse = (message: string, code: string, cause?: unknown) => UpstreamError;

function joseFailure(upstream: string, err: unknown, refuse: Refuse): UpstreamError {
  // No `cause` for these two: jose attaches the whole payload (names, emails) to them.
  if (err instanceof errors.JWTExpired) return refuse('expired', 'id_token_expired');
  if (err instanceof errors.JWTClaimValidationFailed) return refuse(`claim ${err.claim} ${err.reason}`, 'id_token_claims');
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey) {
    return refuse('signature does not verify', 'id_token_signature', err);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return refuse('signed with an algorithm the issuer does not announce', 'id_token_alg', err);
  // JWKSTimeout, a JWKS answering non-200 or non-JSON (generic JOSEError), or fetch itself failing.
  if (err instanceof errors.JWKSTimeout || !(err instanceof errors.JOSEError) || err.code === 'ERR_JOSE_GENERIC') {
    return new UpstreamError(upstream, 'unavailable', 'the issuer\'s JWKS could not be fetched', { code: 'jwks_unavailable' }, { cause: err });
  }
  return refuse('malformed', 'id_token_invalid', err);
}
