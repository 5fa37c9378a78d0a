/**
 * The legacy QR-code login (docs/reference/dingtalk.md, "Legacy SNS login"): the browser goes to
 * connect/qrconnect with the login app's `appid`; DingTalk comes back with `code`; the bridge
 * trades it at sns/getuserinfo_bycode, a request signed with the login app's secret instead of a
 * token, for the person's unionId. The login app is its own credential (`legacyAppId`,
 * `legacyAppSecret`); membership is then checked with the internal app as for the current login.
 */
import { createHmac } from 'node:crypto';
import { isObject } from '../fetch-json.js';
import type { UpstreamError } from '../types.js';
import { shown, upstreamErrorFor } from './classify.js';
import { DingTalkCallError, isRetryable, isThrottled, type DingTalkClient } from './client.js';
import { ERRCODE, LEGACY_SNS_SCOPE, OAPI } from './constants.js';
import type { LoginProfile } from './identity.js';
import { dingtalkError } from './messages.js';

export interface LegacySnsContext {
  upstream: string;
  appId: string;
  appSecret: string;
  client: DingTalkClient;
  timeoutMs: number;
  /** Epoch milliseconds: the signed timestamp. */
  now: () => number;
}

/**
 * `Base64(HMAC-SHA256(key = appSecret, message = timestamp))`, the timestamp in milliseconds as
 * decimal text. The caller puts it in the query through URLSearchParams, which URL-encodes it once.
 */
export function snsSignature(appSecret: string, timestamp: string): string {
  return createHmac('sha256', appSecret).update(timestamp, 'utf8').digest('base64');
}

/** Parameters the bridge sets itself on the QR page's URL. */
const PROTOCOL_PARAMS = new Set(['appid', 'redirect_uri', 'response_type', 'scope', 'state']);

export function legacyAuthorizeUrl(
  endpoint: string,
  appId: string,
  callbackUrl: string,
  state: string,
  extra: Record<string, string> = {},
): string {
  const url = new URL(endpoint);
  for (const [key, value] of Object.entries(extra)) if (!PROTOCOL_PARAMS.has(key)) url.searchParams.set(key, value);
  url.searchParams.set('appid', appId);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', LEGACY_SNS_SCOPE);
  url.searchParams.set('state', state);
  url.searchParams.set('redirect_uri', callbackUrl);
  return url.href;
}

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** The tmp code → the person's unionId and nick. Single use: never resent. */
export async function exchangeSnsCode(ctx: LegacySnsContext, code: string): Promise<LoginProfile> {
  const timestamp = String(ctx.now());
  let body: Record<string, unknown>;
  try {
    body = await ctx.client.oapi(
      {
        method: 'POST',
        path: OAPI.snsUserInfoByCode,
        query: { accessKey: ctx.appId, timestamp, signature: snsSignature(ctx.appSecret, timestamp) },
        json: { tmp_auth_code: code },
      },
      { retry: false },
    );
  } catch (err) {
    throw err instanceof DingTalkCallError ? snsError(ctx, err) : err;
  }
  const info = isObject(body.user_info) ? body.user_info : undefined;
  const unionId = str(info?.unionid);
  if (!info || !unionId || unionId.length > 255)
    throw dingtalkError(ctx.upstream, 'bad_profile', { params: { api: OAPI.snsUserInfoByCode } });
  const nick = str(info.nick);
  return { unionId, ...(nick === undefined ? {} : { nick }) };
}

/**
 * 40078: the tmp code is unknown, used or expired. 853001–853004 (the timestamp's format, a
 * timestamp more than a minute from DingTalk's clock, the accessKey, the signature: the API's error
 * list, https://help.dingtalk.io/open/development/queries-basic-user-information), 88 without a
 * `sub_code`, 40096, or a message about the signature, timestamp or accessKey is read as the login
 * app's credentials or the server clock (docs/reference/dingtalk.md, "Legacy SNS login").
 */
function snsError(ctx: LegacySnsContext, err: DingTalkCallError): UpstreamError {
  if (isRetryable(err) || isThrottled(err)) return upstreamErrorFor(ctx.upstream, err, ctx.timeoutMs);
  if (err.errcode === ERRCODE.codeNotFound) return dingtalkError(ctx.upstream, 'code_rejected', { code: err.code, cause: err });
  const subCode = isObject(err.body) ? err.body.sub_code : undefined;
  const signed =
    (err.errcode === ERRCODE.authFailed && subCode === undefined) ||
    err.errcode === ERRCODE.badAppCredentials ||
    // 853001–853004: the timestamp's format, its distance from DingTalk's clock, the accessKey, the signature.
    (err.errcode !== undefined && err.errcode >= 853001 && err.errcode <= 853004) ||
    /签名|signature|时间戳|timestamp|accessKey/i.test(err.dingtalkMessage);
  if (signed) {
    return dingtalkError(ctx.upstream, 'legacy_credentials', {
      code: err.code,
      params: { api: err.api, message: shown(err.dingtalkMessage) },
      cause: err,
    });
  }
  return upstreamErrorFor(ctx.upstream, err, ctx.timeoutMs);
}
