/**
 * The `oauth2` upstream: any OAuth2 authorization server with a JSON userinfo endpoint, mapped
 * by dotted claim paths; `preset: aliyun-idaas` fills in Alibaba Cloud IDaaS EIAM 1.0.
 * Not passport-oauth2: its token call (node-oauth) has no timeout, no client_secret_basic and
 * reads a 200 carrying `{error}` as "no access token"; token-exchange.ts does the call instead.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { OAuth2UpstreamConfig } from '../../config/schema.js';
import { codeOf, extraParams } from '../authorization-code.js';
import { mapIdentity } from '../claims.js';
import { httpFetch } from '../http-fetch.js';
import { exchangeCode, type TokenEndpoint } from '../token-exchange.js';
import type { Connector } from '../types.js';
import type { UpstreamDeps } from '../upstream-deps.js';
import { fetchUserInfo } from '../user-info.js';
import { resolveOAuth2Config } from './config.js';

export function openOAuth2(config: OAuth2UpstreamConfig, deps: UpstreamDeps): Connector {
  const resolved = resolveOAuth2Config(config);
  const upstream = config.id;
  const http = { upstream, fetch: deps.fetch ?? httpFetch, timeoutMs: config.timeoutMs };
  const token: TokenEndpoint = {
    url: resolved.tokenURL,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    clientAuth: config.clientAuth,
  };
  return {
    id: upstream,
    type: 'oauth2',
    displayName: config.displayName ?? upstream,
    // RFC 7636 §4.1: 32 random octets, base64url.
    newLeg: () => (resolved.pkce ? { codeVerifier: randomBytes(32).toString('base64url') } : {}),
    loginUrl({ callbackUrl, state, secrets, extra }) {
      const url = new URL(resolved.authorizationURL);
      const params: Record<string, string | undefined> = {
        ...extraParams(extra),
        response_type: 'code',
        client_id: config.clientId,
        redirect_uri: callbackUrl,
        scope: resolved.scope,
        state,
      };
      if (secrets.codeVerifier) {
        params.code_challenge = createHash('sha256').update(secrets.codeVerifier).digest('base64url');
        params.code_challenge_method = 'S256';
      }
      for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
      return url.href;
    },
    async handleCallback({ callbackUrl, params, secrets }) {
      const grant: Record<string, string> = { grant_type: 'authorization_code', code: codeOf(upstream, params), redirect_uri: callbackUrl };
      if (secrets.codeVerifier) grant.code_verifier = secrets.codeVerifier;
      const { accessToken } = await exchangeCode(http, token, grant);
      const profile = await fetchUserInfo(http, resolved.userInfoURL, accessToken);
      resolved.checkUserInfo?.(upstream, profile);
      return mapIdentity(profile, {
        upstream,
        linkDomain: resolved.linkDomain,
        claims: resolved.claims,
        emailVerifiedDefault: resolved.emailVerifiedDefault,
      });
    },
  };
}
