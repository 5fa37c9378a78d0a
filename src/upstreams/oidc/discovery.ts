/**
 * OIDC discovery (OpenID Connect Discovery 1.0 §4). The document's `issuer` must equal the
 * configured issuer exactly (§4.3), trailing slash included: it is what ID tokens are checked against.
 */
import { fetchJson, isObject, isTransientStatus, type UpstreamHttp } from '../fetch-json.js';
import { UpstreamError } from '../types.js';

export interface OidcMetadata {
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  userInfoEndpoint?: string;
  jwksUri: string;
  /** ID token algorithms we accept: the issuer's list, asymmetric ones only. */
  algorithms: string[];
}

// Asymmetric JWS algorithms jose verifies with a JWKS; `none` and HMAC are never accepted.
const ASYMMETRIC = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);

export function discoveryURL(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

export async function discover(http: UpstreamHttp, issuer: string, needUserInfo: boolean): Promise<OidcMetadata> {
  const { status, body } = await fetchJson(http, 'OIDC discovery', discoveryURL(issuer), { headers: { accept: 'application/json' } });
  const refuse = (message: string, code = 'bad_discovery') => new UpstreamError(http.upstream, 'misconfigured', message, { code });
  if (isTransientStatus(status)) throw new UpstreamError(http.upstream, 'unavailable', `OIDC discovery answered HTTP ${status}`, { code: `http_${status}` });
  if (status !== 200) throw refuse(`OIDC discovery answered HTTP ${status} at ${discoveryURL(issuer)}`);
  if (!isObject(body)) throw refuse('OIDC discovery answered no JSON object');
  if (body.issuer !== issuer) {
    throw refuse(`OIDC discovery names issuer ${JSON.stringify(body.issuer)}, configured is ${JSON.stringify(issuer)}: they must match exactly`, 'issuer_mismatch');
  }
  const url = (key: string, required: boolean) => {
    const value = body[key];
    if (typeof value === 'string' && URL.canParse(value) && /^https?:$/.test(new URL(value).protocol)) return value;
    if (required) throw refuse(`OIDC discovery lacks a usable ${key}`);
    return undefined;
  };
  const metadata: OidcMetadata = {
    issuer,
    authorizationEndpoint: url('authorization_endpoint', true)!,
    tokenEndpoint: url('token_endpoint', true)!,
    userInfoEndpoint: url('userinfo_endpoint', needUserInfo),
    jwksUri: url('jwks_uri', true)!,
    algorithms: algorithmsOf(body.id_token_signing_alg_values_supported),
  };
  if (metadata.algorithms.length === 0) throw refuse('OIDC discovery offers no asymmetric ID token signing algorithm');
  return metadata;
}

/** RS256 when the list is absent (OIDC Core 15.1: every OP must support it). */
function algorithmsOf(value: unknown): string[] {
  if (!Array.isArray(value)) return ['RS256'];
  return value.filter((alg): alg is string => typeof alg === 'string' && ASYMMETRIC.has(alg));
}
