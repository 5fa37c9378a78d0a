/**
 * The userinfo call for oauth2/oidc upstreams. The access token goes in `Authorization: Bearer`
 * (RFC 6750 §2.1), never in the query string where node-oauth's `get()` puts it: URLs end up in
 * proxy and access logs.
 */
import { fetchJson, isObject, isTransientStatus, safeCode, type UpstreamHttp } from './fetch-json.js';
import { UpstreamError } from './types.js';

export async function fetchUserInfo(http: UpstreamHttp, url: string, accessToken: string): Promise<Record<string, unknown>> {
  const { status, body } = await fetchJson(http, 'userinfo endpoint', url, {
    method: 'GET',
    headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
  });
  const fail = (reason: 'failed' | 'unavailable', message: string, code: string) =>
    new UpstreamError(http.upstream, reason, message, { code });
  if (isTransientStatus(status)) throw fail('unavailable', `userinfo endpoint answered HTTP ${status}`, `http_${status}`);
  if (status === 401 || status === 403)
    throw fail('failed', `userinfo endpoint refused the access token (HTTP ${status})`, 'userinfo_unauthorized');
  if (status !== 200) throw fail('failed', `userinfo endpoint answered HTTP ${status}`, `http_${status}`);
  // Signed (application/jwt) userinfo is not requested and not accepted.
  if (!isObject(body)) throw fail('failed', 'userinfo endpoint answered no JSON object', 'bad_userinfo');
  if (body.error !== undefined) {
    const code = safeCode(body.error);
    throw fail('failed', `userinfo endpoint answered an error${code ? ` (${code})` : ''}`, code ?? 'bad_userinfo');
  }
  return body;
}
