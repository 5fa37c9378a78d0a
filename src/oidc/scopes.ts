/**
 * Scopes and the claims each one releases (docs/architecture.md, "Accounts and claims").
 * oidc-provider advertises the keys as `scopes_supported` and the values as `claims_supported`, and
 * filters what `findAccount` returns down to what the granted scopes (or the `claims` parameter)
 * allow. The consent page (src/interactions/consent-prompt.ts) lists them from here too.
 */
export const SCOPE_CLAIMS = {
  openid: ['sub'],
  profile: ['name', 'preferred_username', 'picture', 'locale', 'updated_at'],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
  groups: ['groups'],
  dingtalk: ['dingtalk_userid', 'dingtalk_unionid', 'dingtalk_corp_id', 'job_number', 'title'],
} as const satisfies Record<string, readonly string[]>;

/** Every scope we accept; `offline_access` releases no claim but lets refresh tokens outlive the session. */
export const SCOPES = ['openid', 'offline_access', ...Object.keys(SCOPE_CLAIMS).filter((s) => s !== 'openid')];

/** oidc-provider's `claims` option: our scopes plus its standalone claims (null: not tied to a scope). */
export function scopeClaimsConfig(): Record<string, string[] | null> {
  return {
    acr: null,
    sid: null,
    auth_time: null,
    iss: null,
    ...Object.fromEntries(Object.entries(SCOPE_CLAIMS).map(([scope, claims]) => [scope, [...claims]])),
  };
}
