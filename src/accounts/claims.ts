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

/** An upstream's group namespace by id (the config's `groupsPrefixOf`); default `<id>:`. */
export type GroupsPrefixOf = (upstreamId: string) => string;
const defaultGroupsPrefix: GroupsPrefixOf = (upstreamId) => `${upstreamId}:`;

/** Every claim of the account, for every scope, shaped by the client's policy. */
export function claimsFor(
  account: Account,
  policy: ClaimPolicy,
  groupsPrefixOf: GroupsPrefixOf = defaultGroupsPrefix,
): Record<string, unknown> {
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
  claims.groups = shapeGroups(profile.groups ?? [], policy.groups, groupsPrefixOf(account.upstream));
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

// Kubernetes reserves `system:` (system:masters is cluster-admin); no upstream or prefix may produce one.
// https://kubernetes.io/docs/reference/access-authn-authz/authentication/#users-in-kubernetes
const isSystemGroup = (group: string) => group.toLowerCase().startsWith('system:');

/**
 * `allow` (exact, or a prefix with a trailing `*`) matches a group as its upstream gave it, as it
 * did before groups had namespaces; then the upstream's namespace (`upstreamPrefix`) and the
 * client's `prefix` go before it, so upstreams never share a namespace; then the list is cut to
 * `max`. A group beginning with `system:`, as the upstream gave it or as emitted, is always dropped.
 */
export function shapeGroups(groups: readonly string[], policy: ClaimPolicy['groups'], upstreamPrefix = ''): string[] {
  const unique = [...new Set(groups.filter((g) => typeof g === 'string' && g !== '' && !isSystemGroup(g)))];
  const allowed = policy?.allow === undefined ? unique : unique.filter((g) => policy.allow!.some((p) => matches(p, g)));
  const emitted = allowed.map((g) => (policy?.prefix ?? '') + upstreamPrefix + g).filter((g) => !isSystemGroup(g));
  return policy ? emitted.slice(0, policy.max) : emitted;
}

function matches(pattern: string, group: string): boolean {
  return pattern.endsWith('*') ? group.startsWith(pattern.slice(0, -1)) : group === pattern;
}
