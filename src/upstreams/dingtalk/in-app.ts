/**
 * Sign-in inside the DingTalk app (免登; docs/reference/dingtalk.md, "In-app login code"): the
 * page's JSAPI `requestAuthCode({ corpId, clientId })` gives a code, single use and valid 5
 * minutes; topapi/v2/user/getuserinfo with the app token turns it into the person's userid and
 * unionId, which then take the same membership path as every other way in (index.ts, `identify`).
 */
import type { DingTalkUpstreamConfig } from '../../config/schema.js';
import type { InAppLogin, UpstreamIdentity } from '../types.js';
import { upstreamErrorFor } from './classify.js';
import { DingTalkCallError } from './client.js';
import { DINGTALK_CLIENT_UA, ERRCODE, OAPI } from './constants.js';
import type { LoginProfile } from './identity.js';
import { dingtalkError } from './messages.js';
import type { OrgApi } from './org-api.js';

export interface InAppDeps {
  org: OrgApi;
  identify(profile: LoginProfile, chosenCorpId: string | undefined): Promise<UpstreamIdentity>;
}

/** A cookie's value in a Cookie header (the stand-in's marker only; no other cookie is read here). */
function hasCookie(header: string | undefined, name: string): boolean {
  return (header ?? '').split(';').some((pair) => pair.trim().startsWith(`${name}=`));
}

export function createInAppLogin(config: DingTalkUpstreamConfig, corpId: string, deps: InAppDeps): InAppLogin {
  const upstream = config.id;
  const { standIn, timeoutMs } = config.inAppLogin;
  return {
    detects(req) {
      const ua = req.headers['user-agent'];
      if (typeof ua === 'string' && DINGTALK_CLIENT_UA.test(ua)) return true;
      return standIn !== undefined && hasCookie(req.headers.cookie, standIn.clientCookie);
    },
    page: { corpId, clientId: config.clientId, timeoutMs, ...(standIn ? { jsapiUrl: standIn.jsapiUrl } : {}) },
    async signIn(code) {
      let user: Awaited<ReturnType<OrgApi['inAppUser']>>;
      try {
        user = await deps.org.inAppUser(code);
      } catch (err) {
        if (!(err instanceof DingTalkCallError)) throw err;
        if (err.errcode === ERRCODE.codeNotFound) throw dingtalkError(upstream, 'code_rejected', { code: err.code, cause: err });
        throw upstreamErrorFor(upstream, err, config.timeoutMs);
      }
      if (!user.unionId) throw dingtalkError(upstream, 'bad_profile', { params: { api: OAPI.inAppUserInfo } });
      // Inside the app the person is signed in to this organisation: it is the one they chose.
      return deps.identify({ unionId: user.unionId, ...(user.name ? { nick: user.name } : {}) }, corpId);
    },
  };
}
