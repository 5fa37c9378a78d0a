/**
 * What a consent page lists: each scope the client asks for, in words, then any claim asked for on
 * its own (the `claims` parameter) that no listed scope already covers.
 */
import type { Params } from './messages.js';

export interface ConsentItem {
  key: string;
  params?: Params;
}

/** Scopes in the order people read them; anything else follows in the order asked. */
const KNOWN_SCOPES = ['openid', 'profile', 'email', 'phone', 'groups', 'dingtalk', 'offline_access'];

/** The scope whose words already cover a claim. */
const CLAIM_SCOPE: Record<string, string> = {
  sub: 'openid', name: 'profile', given_name: 'profile', family_name: 'profile', nickname: 'profile',
  preferred_username: 'profile', picture: 'profile', locale: 'profile', zoneinfo: 'profile', updated_at: 'profile',
  email: 'email', email_verified: 'email', phone_number: 'phone', phone_number_verified: 'phone',
  groups: 'groups', dingtalk_userid: 'dingtalk', dingtalk_unionid: 'dingtalk', dingtalk_corp_id: 'dingtalk',
  job_number: 'dingtalk', title: 'dingtalk',
};

const KNOWN_CLAIMS = new Set(['name', 'preferred_username', 'picture', 'locale', 'email', 'phone_number', 'groups',
  'dingtalk_userid', 'dingtalk_unionid', 'dingtalk_corp_id', 'job_number', 'title']);

/** Claims that say nothing about the person on their own (covered by another item when asked). */
const SILENT_CLAIMS = new Set(['sub', 'email_verified', 'phone_number_verified', 'updated_at', 'auth_time', 'acr', 'amr']);

export function describeConsent(scopes: readonly string[], claims: readonly string[]): ConsentItem[] {
  const asked = new Set(scopes);
  const ordered = [...KNOWN_SCOPES.filter((s) => asked.has(s)), ...scopes.filter((s) => !KNOWN_SCOPES.includes(s))];
  const items: ConsentItem[] = ordered.map((scope) => (KNOWN_SCOPES.includes(scope)
    ? { key: `consent.scopes.${scope}` }
    : { key: 'consent.otherScope', params: { scope } }));
  const seen = new Set<string>();
  for (const claim of claims) {
    const covering = CLAIM_SCOPE[claim];
    if ((covering && asked.has(covering)) || SILENT_CLAIMS.has(claim) || seen.has(claim)) continue;
    seen.add(claim);
    items.push(KNOWN_CLAIMS.has(claim) ? { key: `consent.claims.${claim}` } : { key: 'consent.otherClaim', params: { claim } });
  }
  return items;
}
