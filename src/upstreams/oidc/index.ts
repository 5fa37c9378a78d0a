/**
 * The `oidc` upstream: any OpenID Provider (Alibaba Cloud IDaaS EIAM 2.0, Keycloak, Azure AD…)
 * found by discovery. Code flow with PKCE S256 and a nonce; the ID token is verified against the
 * issuer's JWKS; userinfo (optional) is merged over the ID token's claims.
 */
import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from 'jose';
import type passport from 'passport';
import type { OidcUpstreamConfig } from '../../config/schema.js';
import { mapIdentity, type IdentityMapping } from '../claims.js';
import type { UpstreamHttp } from '../fetch-json.js';
import { memoizeUntilSuccess } from '../memoize-until-success.js';
import { UpstreamOAuth2Strategy, type CallbackResult } from '../oauth2/strategy.js';
import { ScopedStrategy } from '../scoped-strategy.js';
import { UpstreamError, type LegStore, type Upstream, type UpstreamIdentity } from '../types.js';
import type { UpstreamDeps } from '../upstream-deps.js';
import { oidcIdentityMapping } from './config.js';
import { discover, type OidcMetadata } from './discovery.js';
import { verifyIdToken } from './id-token.js';

interface Discovered {
  metadata: OidcMetadata;
  jwks: JWTVerifyGetKey;
}

export function openOidc(config: OidcUpstreamConfig, deps: UpstreamDeps): Upstream {
  const http: UpstreamHttp = { upstream: config.id, fetch: deps.fetch ?? globalThis.fetch, timeoutMs: config.timeoutMs };
  const mapping = oidcIdentityMapping(config);
  const discovered = memoizeUntilSuccess(async (): Promise<Discovered> => {
    const metadata = await discover(http, config.issuer, config.userInfo);
    // jose caches the key set and refetches it (at most every 30 s) when a token names an unknown kid.
    const jwks = createRemoteJWKSet(new URL(metadata.jwksUri), { timeoutDuration: config.timeoutMs, [customFetch]: http.fetch });
    return { metadata, jwks };
  });
  return {
    id: config.id,
    type: 'oidc',
    displayName: config.displayName ?? config.id,
    async init() {
      await discovered();
    },
    createStrategy(callbackUrl: string, legs: LegStore) {
      let inner: passport.Strategy | undefined;
      // Built on first use: the endpoints are only known after discovery, which may still be failing.
      return new ScopedStrategy(config.id, async () => (inner ??= buildStrategy(config, http, mapping, await discovered(), callbackUrl, legs)));
    },
  };
}

function buildStrategy(config: OidcUpstreamConfig, http: UpstreamHttp, mapping: IdentityMapping,
  { metadata, jwks }: Discovered, callbackUrl: string, legs: LegStore): passport.Strategy {
  return new UpstreamOAuth2Strategy({
    upstream: config.id,
    authorizationURL: metadata.authorizationEndpoint,
    token: { url: metadata.tokenEndpoint, clientId: config.clientId, clientSecret: config.clientSecret, clientAuth: config.clientAuth },
    userInfoURL: config.userInfo ? metadata.userInfoEndpoint : undefined,
    scope: config.scope,
    pkce: config.pkce,
    nonce: true,
    callbackUrl,
    legs,
    http,
  }, (result) => identityFrom(config, mapping, metadata, jwks, result));
}

async function identityFrom(config: OidcUpstreamConfig, mapping: IdentityMapping, metadata: OidcMetadata,
  jwks: JWTVerifyGetKey, { tokens, profile, secrets }: CallbackResult): Promise<UpstreamIdentity> {
  const idToken = tokens.params.id_token;
  if (typeof idToken !== 'string' || idToken === '') {
    throw new UpstreamError(config.id, 'failed', 'token response without id_token', { code: 'no_id_token' });
  }
  const claims = await verifyIdToken(idToken, {
    upstream: config.id, issuer: metadata.issuer, clientId: config.clientId, algorithms: metadata.algorithms, jwks, nonce: secrets.nonce,
  });
  if (!config.userInfo) return mapIdentity(claims, mapping);
  // OIDC Core 5.3.2: a userinfo response for another subject must not be used.
  if (profile?.sub !== claims.sub) throw new UpstreamError(config.id, 'failed', 'userinfo sub differs from the ID token\'s', { code: 'userinfo_sub_mismatch' });
  return mapIdentity({ ...claims, ...profile }, mapping);
}
