/**
 * What the oauth2 and oidc connectors share of the authorization code flow (RFC 6749 §4.1): the
 * extra authorization parameters a start route may add, and reading the callback.
 */
import { safeCode } from './fetch-json.js';
import { UpstreamError } from './types.js';

const PROTOCOL_PARAMS = new Set([
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
]);

/** The start route's extra parameters (e.g. `prompt`), without any that would override the protocol's. */
export function extraParams(extra: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(extra).filter(([key]) => !PROTOCOL_PARAMS.has(key)));
}

/** The callback's code, or the UpstreamError its `error` (or its lack of a code) stands for. */
export function codeOf(upstream: string, params: URLSearchParams): string {
  const error = params.get('error');
  if (error !== null) {
    const code = safeCode(error);
    // RFC 6749 §4.1.2.1: access_denied is the person (or the upstream's policy) saying no.
    if (code === 'access_denied') throw new UpstreamError(upstream, 'denied', 'sign-in was declined at the upstream', { code });
    throw new UpstreamError(upstream, 'failed', `upstream answered error ${code ?? '(unreadable)'}`, { code: code ?? 'upstream_error' });
  }
  const code = params.get('code');
  if (!code) throw new UpstreamError(upstream, 'failed', 'callback without an authorization code', { code: 'no_code' });
  return code;
}
