/**
 * The person's own leg (docs/reference/dingtalk.md): the authCode for a user token, the user token for users/me.
 * The user token is used for that one call and then dropped: the bridge keeps no DingTalk user
 * token anywhere (membership is checked later with the app token).
 */
import { isObject } from '../fetch-json.js';
import type { UpstreamError } from '../types.js';
import { upstreamErrorFor } from './classify.js';
import { DingTalkCallError, isRetryable, isThrottled, type DingTalkClient } from './client.js';
import { API } from './constants.js';
import type { LoginProfile } from './identity.js';
import { dingtalkError } from './messages.js';

export interface LoginContext {
  upstream: string;
  clientId: string;
  clientSecret: string;
  client: DingTalkClient;
  timeoutMs: number;
}

export interface UserToken {
  accessToken: string;
  /** The organisation the person chose at DingTalk (scope `corpid`). */
  corpId?: string;
}

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** Single use at DingTalk, so never retried: a retry after a lost answer could only fail. */
export async function exchangeCode(ctx: LoginContext, code: string): Promise<UserToken> {
  let body: Record<string, unknown>;
  try {
    body = await ctx.client.api(
      {
        method: 'POST',
        path: API.userAccessToken,
        json: { clientId: ctx.clientId, clientSecret: ctx.clientSecret, code, grantType: 'authorization_code' },
      },
      { retry: false },
    );
  } catch (err) {
    throw err instanceof DingTalkCallError ? exchangeError(ctx, err) : err;
  }
  const accessToken = str(body.accessToken);
  if (!accessToken) throw dingtalkError(ctx.upstream, 'bad_response', { params: { api: API.userAccessToken } });
  const corpId = str(body.corpId);
  return corpId === undefined ? { accessToken } : { accessToken, corpId };
}

/**
 * A 400 is about the request: the app's credentials when DingTalk names them, else the code
 * (DingTalk's exact code for a spent or expired authCode is undocumented; docs/reference/dingtalk.md).
 */
function exchangeError(ctx: LoginContext, err: DingTalkCallError): UpstreamError {
  if (err.status !== 400 || isRetryable(err) || isThrottled(err)) return upstreamErrorFor(ctx.upstream, err, ctx.timeoutMs);
  const cause = /client(Id|Secret)|appKey|appSecret|suiteKey/i.test(err.code) ? 'bad_app_credentials' : 'code_rejected';
  return dingtalkError(ctx.upstream, cause, { code: err.code, params: { api: err.api }, cause: err });
}

export async function fetchProfile(ctx: LoginContext, token: UserToken): Promise<LoginProfile> {
  let body: Record<string, unknown>;
  try {
    body = await ctx.client.api({ method: 'GET', path: API.usersMe, token: token.accessToken }, { retry: true });
  } catch (err) {
    throw err instanceof DingTalkCallError ? upstreamErrorFor(ctx.upstream, err, ctx.timeoutMs) : err;
  }
  const unionId = str(body.unionId);
  if (!unionId || unionId.length > 255 || !isObject(body))
    throw dingtalkError(ctx.upstream, 'bad_profile', { params: { api: API.usersMe } });
  const profile: LoginProfile = { unionId };
  for (const key of ['nick', 'avatarUrl', 'mobile', 'stateCode'] as const) {
    const value = str(body[key]);
    if (value !== undefined) profile[key] = value;
  }
  return profile;
}
