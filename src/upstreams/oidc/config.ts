/** Resolves an oidc upstream's config: claim defaults (standard OIDC claims) and the linkDomain. */
import type { OidcUpstreamConfig } from '../../config/schema.js';
import type { IdentityMapping, ResolvedClaimMap } from '../claims.js';

/** OIDC Core 5.1 standard claims; `groups` is the de-facto name (Keycloak, Dex, Okta). */
export const OIDC_DEFAULT_CLAIMS = {
  subject: 'sub',
  name: 'name',
  email: 'email',
  emailVerified: 'email_verified',
  username: 'preferred_username',
  phoneNumber: 'phone_number',
  picture: 'picture',
  groups: 'groups',
} as const satisfies ResolvedClaimMap;

export function oidcIdentityMapping(config: OidcUpstreamConfig): IdentityMapping {
  const configured = Object.fromEntries(Object.entries(config.claims).filter(([, v]) => v !== undefined));
  return {
    upstream: config.id,
    // The issuer, not the config id: renaming the upstream must not change anyone's `sub`.
    linkDomain: config.linkDomain ?? `oidc:${config.issuer}`,
    claims: { ...OIDC_DEFAULT_CLAIMS, ...configured },
    // Used when the ID token / userinfo carries no email_verified at all; an explicit false wins.
    emailVerifiedDefault: config.trustEmail,
  };
}
