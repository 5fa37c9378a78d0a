/**
 * DingTalk's failure codes → the UpstreamError people and operators see (messages.ts). Callers
 * handle the codes whose meaning depends on the call first (60121 is "not a member" at login but
 * "left" on a recheck; a 400 from the code exchange is a spent code) and pass the rest here.
 */
import { isObject } from '../fetch-json.js';
import type { UpstreamError } from '../types.js';
import { type DingTalkCallError, isThrottled } from './client.js';
import { ERRCODE } from './constants.js';
import { dingtalkError } from './messages.js';

/** `…request ip=120.230.136.230 appKey(…)` in 60020 messages (docs/reference/dingtalk.md). */
export function requestIpOf(message: string): string | undefined {
  return /request ip=\s*([0-9A-Fa-f.:]+)/.exec(message)?.[1];
}

/** `accessdenieddetail.requiredScopes` of a v1.0 403 (casdoor/casdoor#4469). */
export function requiredScopesOf(body: unknown): string[] {
  const detail = isObject(body) ? body.accessdenieddetail : undefined;
  const scopes = isObject(detail) ? detail.requiredScopes : undefined;
  return Array.isArray(scopes) ? scopes.filter((s): s is string => typeof s === 'string' && /^[\w.:-]{1,100}$/.test(s)) : [];
}

/** oapi 88 carries the real cause in `sub_code` (e.g. 60011). */
function subCodeOf(body: unknown): number | undefined {
  const sub = isObject(body) ? body.sub_code : undefined;
  return typeof sub === 'number' ? sub : typeof sub === 'string' && /^\d+$/.test(sub) ? Number(sub) : undefined;
}

/** Text from DingTalk that is safe to show: printable, short. */
export function shown(message: string): string {
  return message.replace(/\p{Cc}/gu, ' ').slice(0, 200) || '(no message)';
}

export function upstreamErrorFor(upstream: string, err: DingTalkCallError, timeoutMs: number): UpstreamError {
  const ctx = (params: Record<string, string> = {}) => ({ code: err.code, params: { api: err.api, ...params }, cause: err });
  const n = err.errcode === ERRCODE.authFailed ? (subCodeOf(err.body) ?? err.errcode) : err.errcode;
  if (err.code === 'timeout') return dingtalkError(upstream, 'timeout', ctx({ timeoutMs: String(timeoutMs) }));
  if (err.code === 'unreachable') return dingtalkError(upstream, 'unreachable', ctx());
  if (isThrottled(err)) return dingtalkError(upstream, 'rate_limited', ctx());
  if (err.code === 'bad_response') return dingtalkError(upstream, 'bad_response', ctx());
  if (n === ERRCODE.busy || err.code === 'ServiceUnavailable' || err.status >= 500) return dingtalkError(upstream, 'busy', ctx());
  if (n === ERRCODE.ipNotAllowed || /IpNotInWhiteList/i.test(err.code)) {
    return dingtalkError(upstream, 'ip_not_allowed', ctx({ ip: requestIpOf(err.dingtalkMessage) ?? '(unknown)' }));
  }
  if (n === ERRCODE.outOfContactsScope) return dingtalkError(upstream, 'out_of_scope', ctx());
  if (n === ERRCODE.notFound || n === ERRCODE.invalidUserid) return dingtalkError(upstream, 'not_member', ctx());
  if (err.code === 'InvalidAuthentication' || n === ERRCODE.invalidToken) return dingtalkError(upstream, 'token_rejected', ctx());
  const scopes = requiredScopesOf(err.body);
  if (scopes.length > 0 || /PermissionDenied/i.test(err.code)) {
    return dingtalkError(upstream, 'missing_scopes', ctx({ scopes: scopes.join(', ') || `(${err.api})` }));
  }
  if (err.code === 'InvalidAction.NotFound' || err.status === 404) return dingtalkError(upstream, 'endpoint_not_found', ctx());
  if (err.status === 401 || err.status === 403 || n === ERRCODE.authFailed) {
    return dingtalkError(upstream, 'app_not_permitted', ctx({ message: shown(err.dingtalkMessage) }));
  }
  return dingtalkError(upstream, 'other', ctx({ message: shown(err.dingtalkMessage) }));
}
