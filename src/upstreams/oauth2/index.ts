/**
 * The `oauth2` upstream: any OAuth2 authorization server with a JSON userinfo endpoint, mapped
 * by dotted claim paths; `preset: aliyun-idaas` fills in Alibaba Cloud IDaaS EIAM 1.0.
 */
import type { OAuth2UpstreamConfig } from '../../config/schema.js';
import { mapIdentity } from '../claims.js';
import { ScopedStrategy } from '../scoped-strategy.js';
import { UpstreamError, type LegStore, type Upstream } from '../types.js';
import type { UpstreamDeps } from '../upstream-deps.js';
import { resolveOAuth2Config, type ResolvedOAuth2Config } from './config.js';
import { UpstreamOAuth2Strategy, type CallbackResult } from './strategy.js';

export function openOAuth2(config: OAuth2UpstreamConfig, deps: UpstreamDeps): Upstream {
  const resolved = resolveOAuth2Config(config);
  const http = { upstream: config.id, fetch: deps.fetch ?? globalThis.fetch, timeoutMs: config.timeoutMs };
  return {
    id: config.id,
    type: 'oauth2',
    displayName: config.displayName ?? config.id,
    createStrategy(callbackUrl: string, legs: LegStore) {
      const inner = new UpstreamOAuth2Strategy({
        upstream: config.id,
        authorizationURL: resolved.authorizationURL,
        token: { url: resolved.tokenURL, clientId: config.clientId, clientSecret: config.clientSecret, clientAuth: config.clientAuth },
        userInfoURL: resolved.userInfoURL,
        scope: resolved.scope,
        pkce: config.pkce,
        nonce: false,
        callbackUrl,
        legs,
        http,
      }, (result) => identityFrom(config.id, resolved, result));
      return new ScopedStrategy(config.id, () => inner);
    },
  };
}

async function identityFrom(upstream: string, resolved: ResolvedOAuth2Config, { profile }: CallbackResult) {
  if (profile === undefined) throw new UpstreamError(upstream, 'failed', 'no userinfo', { code: 'bad_userinfo' });
  resolved.checkUserInfo?.(upstream, profile);
  return mapIdentity(profile, {
    upstream,
    linkDomain: resolved.linkDomain,
    claims: resolved.claims,
    emailVerifiedDefault: resolved.emailVerifiedDefault,
  });
}
