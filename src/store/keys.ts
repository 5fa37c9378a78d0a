/**
 * The key layout shared by both backends (Redis adds its `keyPrefix` in front of every key):
 *
 *   op:<Model>:<id>               oidc-provider model document: { payload (JSON), consumed? }
 *   tmp:<key>                     ephemeral record (JSON)
 *   acct:<key>                    durable record (JSON)
 *   idx:uid:<uid>                 → Session id
 *   idx:userCode:<userCode>       → DeviceCode id
 *   idx:grant:<grantId>           expiring set of "<Model>:<id>" tokens issued under the grant
 *   idx:accountGrants:<account>   expiring set of Grant ids of the account
 *   idx:accountSessions:<account> expiring set of Session ids of the account
 *   lock:<name>                   random owner token
 *   rl:<rule>:<digest of key>     rate-limit counter (rate-limits.ts)
 *
 * Every operation touches exactly one key per command or script, so Redis Cluster never sees a
 * cross-slot request and no hash tags are needed; the one multi-key script (a model with its
 * index entries, redis-scripts.ts WRITE_INDEXED_DOC) runs only where slots are not enforced. Index members are ids, never full keys, so
 * they stay valid whatever the prefix.
 */

export const GRANTABLE_MODELS: ReadonlySet<string> = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

/** Models indexed by their payload's `accountId`, so offboarding can find them. */
export const ACCOUNT_MODELS: ReadonlySet<string> = new Set(['Grant', 'Session']);

export const modelKey = (model: string, id: string): string => `op:${model}:${id}`;
export const uidKey = (uid: string): string => `idx:uid:${uid}`;
export const userCodeKey = (userCode: string): string => `idx:userCode:${userCode}`;
export const grantIndexKey = (grantId: string): string => `idx:grant:${grantId}`;
export const ACCOUNT_GRANTS = 'idx:accountGrants:';
export const accountGrantsKey = (accountId: string): string => `${ACCOUNT_GRANTS}${accountId}`;
export const accountSessionsKey = (accountId: string): string => `idx:accountSessions:${accountId}`;
export const lockKey = (name: string): string => `lock:${name}`;

/** A grant index member names the token's model and id: "<Model>:<id>". */
export const grantMember = (model: string, id: string): string => `${model}:${id}`;

export function parseGrantMember(member: string): { model: string; id: string } {
  const colon = member.indexOf(':');
  return { model: member.slice(0, colon), id: member.slice(colon + 1) };
}
