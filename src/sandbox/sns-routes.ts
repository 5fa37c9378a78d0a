// Legacy SNS exchange (docs/reference/dingtalk.md, "Legacy SNS login"): no access_token; the query carries
// accessKey, timestamp (ms) and signature = Base64(HMAC-SHA256(appSecret, timestamp)).
import { Router, type Request, type Response } from 'express';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { sendJson, sendOapiError } from './error-bodies.js';
import { jsonOrFormBody, queryParam, rawBody, stringField } from './request-body.js';
import type { SandboxApp, SandboxContext } from './sandbox-context.js';

/** DingTalk documents no window (believed ~1 min): accept ±5 min (docs/reference/dingtalk.md, "Legacy SNS login"). */
const SKEW_MS = 5 * 60 * 1000;

export function snsSignature(appSecret: string, timestamp: string): string {
  return createHmac('sha256', appSecret).update(timestamp).digest('base64');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The app when the signature checks out; else errcode 88 (the exact real code is unverified) is sent. */
function verifySigned(ctx: SandboxContext, req: Request, res: Response): SandboxApp | undefined {
  const app = ctx.apps.get(queryParam(req, 'accessKey') ?? '');
  const timestamp = queryParam(req, 'timestamp') ?? '';
  const signature = queryParam(req, 'signature') ?? '';
  if (!app) return void sendOapiError(res, 88, '不合法的accessKey');
  if (!/^\d{13}$/.test(timestamp) || Math.abs(ctx.clock() - Number(timestamp)) > SKEW_MS) {
    return void sendOapiError(res, 88, '时间戳超出允许范围 (timestamp outside the allowed window)');
  }
  if (!sameText(signature, snsSignature(app.appSecret, timestamp))) return void sendOapiError(res, 88, '签名校验失败');
  return app;
}

export function snsRoutes(ctx: SandboxContext): Router {
  const router = Router();
  router.post('/sns/getuserinfo_bycode', rawBody, (req, res) => {
    const app = verifySigned(ctx, req, res);
    if (!app) return;
    const code = stringField(jsonOrFormBody(req), 'tmp_auth_code');
    if (!code) return sendOapiError(res, 40035, '缺少参数 tmp_auth_code');
    const grant = ctx.snsCodes.take(code);
    const person = grant && grant.appKey === app.appKey ? ctx.directory.personByUserid(grant.userid) : undefined;
    if (!person) return sendOapiError(res, 40078);
    sendJson(res, 200, {
      errcode: 0,
      errmsg: 'ok',
      user_info: { nick: person.name, unionid: person.unionId, openid: person.openId, main_org_auth_high_level: true },
    });
  });
  return router;
}
