/**
 * The claims an account can give (docs/architecture.md, "Accounts and claims"), shaped by the client's policy.
 * oidc/ picks which of them a token carries from the granted scopes; the upstream snapshot's
 * connectorData never leaves the server.
 */
import type { Account, ClaimPolicy } from './types.js';

/** Claims of the `dingtalk` scope, copied from the upstream's `extra` when they are non-empty strings. */
export const DINGTALK_CLAIMS = ['dingtalk_userid', 'dingtalk_unionid', 'dingtalk_corp_id', 'job_number', 'title'] as const;

// KubeSphere's User webhook rejects an address net/mail cannot parse: better no email than a failed login.
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** Every claim of the account, for every scope, shaped by the client's policy. */
export function claimsFor(account: Account, policy: ClaimPolicy): Record<string, unknown> {
  const { profile } = account;
  const claims: Record<string, unknown> = { sub: account.sub, preferred_username: account.username };
  if (profile.name) claims.name = profile.name;
  if (profile.picture) claims.picture = profile.picture;
  if (profile.locale) claims.locale = profile.locale;
  Object.assign(claims, emailClaims(account, policy.emitEmail));
  if (profile.phoneNumber) {
    claims.phone_number = profile.phoneNumber;
    claims.phone_number_verified = profile.phoneNumberVerified === true;
  }
  claims.groups = shapeGroups(profile.groups ?? [], policy.groups);
  for (const name of DINGTALK_CLAIMS) {
    const value = profile.extra?.[name];
    if (typeof value === 'string' && value !== '') claims[name] = value;
    else if (typeof value === 'number') claims[name] = String(value);
  }
  return claims;
}

/**
 * The upstream decides what an email is worth: identity.email is the org email (verified) or the
 * admin-entered one (unverified), never DingTalk's personal profile email. The client then picks
 * `verified` (kube-apiserver refuses email_verified false), `any` or `never`.
 */
function emailClaims(account: Account, emitEmail: ClaimPolicy['emitEmail']): Record<string, unknown> {
  const { email, emailVerified } = account.profile;
  if (!email || !EMAIL.test(email) || emitEmail === 'never') return {};
  const verified = emailVerified === true;
  if (emitEmail === 'verified' && !verified) return {};
  return { email, email_verified: verified };
}

/** `allow` (exact, or a prefix with a trailing `*`) is matched before `prefix` is added; then at most `max`. */
export function shapeGroups(groups: readonly string[], policy: ClaimPolicy['groups']): string[] {
  const unique = [...new Set(groups.filter((g) => typeof g === 'string' && g !== ''))];
  if (!policy) return unique;
  const allowed = policy.allow === undefined ? unique : unique.filter((g) => policy.allow!.some((p) => matches(p, g)));
  return allowed.map((g) => policy.prefix + g).slice(0, policy.max);
}

function matches(pattern: string, group: string): boolean {
  return pattern.endsWith('*') ? group.startsWith(pattern.slice(0, -1)) : group === pattern;
}
