/**
 * The `oidc` upstream: any OpenID Provider (Alibaba Cloud IDaaS EIAM 2.0, Keycloak, Azure AD…)
 * found by discovery, on openid-client: code flow with PKCE S256 and a nonce, the ID token
 * checked by openid-client (signature against the issuer's JWKS, `iss`, `aud`/`azp`, `exp`,
 * nonce), userinfo (optional) merged over the ID token's claims.
 */
import * as client from 'openid-client';
import type { OidcUpstreamConfig } from '../../config/schema.js';
import { codeOf, extraParams } from '../authorization-code.js';
import { mapIdentity } from '../claims.js';
import { httpFetch } from '../http-fetch.js';
import { memoizeUntilSuccess } from '../memoize-until-success.js';
import { UpstreamError, type Connector } from '../types.js';
import type { UpstreamDeps } from '../upstream-deps.js';
import { oidcIdentityMapping } from './config.js';
import { discoveryError, oidcError } from './errors.js';

/** How long a discovery document is used before it is fetched again (keys rotate, endpoints move). */
export const DISCOVERY_MAX_AGE_MS = 60 * 60 * 1000;

// Clocks of upstream and bridge drift; half a minute is what most RPs allow.
const CLOCK_TOLERANCE_SECONDS = 30;

export function openOidc(config: OidcUpstreamConfig, deps: UpstreamDeps): Connector {
  const upstream = config.id;
  const mapping = oidcIdentityMapping(config);
  const discovered = memoizeUntilSuccess(() => discover(config, deps), DISCOVERY_MAX_AGE_MS);
  return {
    id: upstream,
    type: 'oidc',
    displayName: config.displayName ?? upstream,
    async init() {
      await discovered();
    },
    newLeg: () => ({ nonce: client.randomNonce(), ...(config.pkce ? { codeVerifier: client.randomPKCECodeVerifier() } : {}) }),
    async loginUrl({ callbackUrl, state, secrets, extra }) {
      const params: Record<string, string> = {
        ...extraParams(extra),
        redirect_uri: callbackUrl,
        scope: config.scope,
        state,
        nonce: secrets.nonce!,
      };
      if (secrets.codeVerifier) {
        params.code_challenge = await client.calculatePKCECodeChallenge(secrets.codeVerifier);
        params.code_challenge_method = 'S256';
      }
      return client.buildAuthorizationUrl(await discovered(), params).href;
    },
    async handleCallback({ callbackUrl, params, state, secrets }) {
      codeOf(upstream, params);
      const oidc = await discovered();
      // openid-client takes the token request's redirect_uri from this URL, without its query.
      const current = new URL(callbackUrl);
      current.search = params.toString();
      try {
        const tokens = await client.authorizationCodeGrant(oidc, current, {
          expectedState: state,
          expectedNonce: secrets.nonce,
          pkceCodeVerifier: secrets.codeVerifier,
          idTokenExpected: true,
        });
        const claims = tokens.claims()!;
        if (!config.userInfo) return mapIdentity(claims, mapping);
        // OIDC Core 5.3.2: a userinfo response for another subject must not be used (openid-client checks `sub`).
        const profile = await client.fetchUserInfo(oidc, tokens.access_token, claims.sub);
        return mapIdentity({ ...claims, ...profile }, mapping);
      } catch (err) {
        throw oidcError(upstream, err, oidc.serverMetadata().jwks_uri);
      }
    },
  };
}

async function discover(config: OidcUpstreamConfig, deps: UpstreamDeps): Promise<client.Configuration> {
  const authentication =
    config.clientSecret === undefined
      ? client.None()
      : config.clientAuth === 'client_secret_post'
        ? client.ClientSecretPost(config.clientSecret)
        : client.ClientSecretBasic(config.clientSecret);
  let oidc: client.Configuration;
  try {
    oidc = await client.discovery(
      new URL(config.issuer),
      config.clientId,
      { [client.clockTolerance]: CLOCK_TOLERANCE_SECONDS },
      authentication,
      {
        timeout: config.timeoutMs / 1000,
        [client.customFetch]: deps.fetch ?? httpFetch,
        // openid-client refuses http:// unless told; only an issuer configured as http (a test double
        // or a lab) is told, so an https issuer can never be downgraded.
        execute: new URL(config.issuer).protocol === 'http:' ? [client.allowInsecureRequests] : [],
      },
    );
  } catch (err) {
    throw discoveryError(config.id, err);
  }
  // OpenID Connect Discovery 1.0 §4.3: exactly the configured issuer, trailing slash included
  // (openid-client compares normalised URLs, which would let `https://x` and `https://x/` pass).
  const { issuer, userinfo_endpoint: userInfo } = oidc.serverMetadata();
  const refuse = (message: string, code: string) => new UpstreamError(config.id, 'misconfigured', message, { code });
  if (issuer !== config.issuer) {
    throw refuse(
      `OIDC discovery names issuer ${JSON.stringify(issuer)}, configured is ${JSON.stringify(config.issuer)}: they must match exactly`,
      'issuer_mismatch',
    );
  }
  if (config.userInfo && !userInfo) throw refuse('OIDC discovery lacks a userinfo_endpoint, and userInfo is on', 'bad_discovery');
  // openid-client checks an ID token's signature only when asked to.
  client.enableNonRepudiationChecks(oidc);
  return oidc;
}
