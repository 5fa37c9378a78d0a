/**
 * The authorization-code exchange of the oauth2 upstream (RFC 6749 §4.1.3): client_secret_basic
 * or _post, bounded by `timeoutMs`, and a 200 that carries `{error}` fails closed.
 */
import { fetchJson, isObject, isTransientStatus, safeCode, type UpstreamHttp } from './fetch-json.js';
import { UpstreamError } from './types.js';

export type ClientAuth = 'client_secret_basic' | 'client_secret_post';

export interface TokenEndpoint {
  url: string;
  clientId: string;
  /** Absent for a public client (PKCE only): client_id goes in the body, nothing else. */
  clientSecret?: string;
  clientAuth: ClientAuth;
}

export interface TokenResponse {
  accessToken: string;
  refreshToken?: string;
  /** The whole token response (id_token, expires_in, scope…), tokens included: never log it. */
  params: Record<string, unknown>;
}

/** POSTs the grant; resolves only with a usable bearer access token, otherwise UpstreamError. */
export async function exchangeCode(http: UpstreamHttp, endpoint: TokenEndpoint, params: Record<string, string>): Promise<TokenResponse> {
  const body = new URLSearchParams(params);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (endpoint.clientSecret !== undefined && endpoint.clientAuth === 'client_secret_basic') {
    headers.authorization = basicAuthorization(endpoint.clientId, endpoint.clientSecret);
  } else {
    body.set('client_id', endpoint.clientId);
    if (endpoint.clientSecret !== undefined) body.set('client_secret', endpoint.clientSecret);
  }
  const response = await fetchJson(http, 'token endpoint', endpoint.url, { method: 'POST', headers, body });
  return readTokenResponse(http.upstream, response.status, response.body);
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

function readTokenResponse(upstream: string, status: number, body: unknown): TokenResponse {
  // A 200 carrying an error body is an error too (some IdPs answer every call with 200).
  if (status !== 200 || (isObject(body) && body.error !== undefined)) throw tokenError(upstream, status, body);
  if (!isObject(body))
    throw new UpstreamError(upstream, 'failed', 'token endpoint answered no JSON object', { code: 'bad_token_response' });
  const { access_token: accessToken, refresh_token: refreshToken, token_type: tokenType } = body;
  if (typeof accessToken !== 'string' || accessToken === '') {
    throw new UpstreamError(upstream, 'failed', 'token response without access_token', { code: 'bad_token_response' });
  }
  // We present the token as a Bearer token; any other type (DPoP, MAC) would be misused.
  if (tokenType !== undefined && (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer')) {
    throw new UpstreamError(upstream, 'failed', 'token response with a token_type other than Bearer', { code: 'bad_token_response' });
  }
  return { accessToken, refreshToken: typeof refreshToken === 'string' ? refreshToken : undefined, params: body };
}

export function tokenError(upstream: string, status: number, body: unknown): UpstreamError {
  const code = isObject(body) ? safeCode(body.error) : undefined;
  const described = isObject(body) && typeof body.error_description === 'string' ? `: ${body.error_description.slice(0, 200)}` : '';
  const message = `token endpoint refused the code (HTTP ${status}${code ? `, ${code}` : ''})${described}`;
  // Wrong client id/secret or auth method: only the operator can fix it.
  if (status === 401 || code === 'invalid_client' || code === 'unauthorized_client') {
    return new UpstreamError(upstream, 'misconfigured', message, { code: code ?? 'invalid_client' });
  }
  if (isTransientStatus(status)) return new UpstreamError(upstream, 'unavailable', message, { code: code ?? `http_${status}` });
  return new UpstreamError(upstream, 'failed', message, { code: code ?? `http_${status}` });
}
