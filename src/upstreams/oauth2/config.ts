/**
 * Resolves an oauth2 upstream's config: preset paths below `baseURL`, explicit URLs winning over
 * them, preset claims overlaid by configured ones, and the default linkDomain.
 */
import type { OAuth2UpstreamConfig } from '../../config/schema.js';
import type { ResolvedClaimMap } from '../claims.js';
import { UpstreamError } from '../types.js';
import { OAUTH2_PRESETS, type OAuth2Preset } from './constants.js';

export interface ResolvedOAuth2Config {
  authorizationURL: string;
  tokenURL: string;
  userInfoURL: string;
  scope: string | undefined;
  claims: ResolvedClaimMap;
  linkDomain: string;
  emailVerifiedDefault: boolean;
  /** Send PKCE S256: the configured value, else the preset's, else on (see `pkce` in src/config/schema.ts). */
  pkce: boolean;
  checkUserInfo: OAuth2Preset['checkUserInfo'];
}

export function resolveOAuth2Config(config: OAuth2UpstreamConfig): ResolvedOAuth2Config {
  const preset: OAuth2Preset | undefined = config.preset ? OAUTH2_PRESETS[config.preset] : undefined;
  const below = (path: string | undefined) => (preset && config.baseURL && path ? joinURL(config.baseURL, path) : undefined);
  const authorizationURL = config.authorizationURL ?? below(preset?.paths.authorization);
  const tokenURL = config.tokenURL ?? below(preset?.paths.token);
  const userInfoURL = config.userInfoURL ?? below(preset?.paths.userInfo);
  const subject = config.claims?.subject ?? preset?.claims.subject;
  if (!authorizationURL || !tokenURL || !userInfoURL || !subject) {
    // The config schema already refuses this; kept so a hand-built config cannot slip through.
    throw new UpstreamError(
      config.id,
      'misconfigured',
      'oauth2 upstream needs authorizationURL, tokenURL, userInfoURL and claims.subject (or preset and baseURL)',
    );
  }
  return {
    authorizationURL,
    tokenURL,
    userInfoURL,
    scope: config.scope ?? preset?.scope,
    claims: { ...preset?.claims, ...definedOnly(config.claims ?? {}), subject },
    linkDomain: config.linkDomain ?? `oauth2:${new URL(authorizationURL).host}`,
    emailVerifiedDefault: config.trustEmail ?? preset?.emailVerified ?? false,
    pkce: config.pkce ?? preset?.pkce ?? true,
    checkUserInfo: preset?.checkUserInfo,
  };
}

/** `https://x.example/` + `/oauth/token`, keeping any path the base URL has. */
function joinURL(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
