import { randomBytes, randomUUID } from 'node:crypto';
import type { Response } from 'express';

// Two wire conventions, one per DingTalk host family:
// - api.dingtalk.com (v1.0): non-2xx status, body {code, requestid, message}; note lowercase `requestid`.
//   Real bodies: satorijs/satori#240 (400 InvalidAuthentication), casdoor/casdoor#4469 (403 with
//   accessdenieddetail), aliyun/alibabacloud-go-sdk#5 (404 InvalidAction.NotFound).
// - oapi.dingtalk.com (gettoken, topapi): always HTTP 200, {errcode, errmsg}; success adds request_id.
// See docs/reference/dingtalk.md, "Hosts and conventions", "Errors of api.dingtalk.com" and "Error codes".

const JSON_TYPE = 'application/json;charset=utf-8';

export function sendJson(res: Response, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body), 'utf8');
  // setHeader, not res.set/res.send: express would rewrite DingTalk's exact content type.
  res.status(status);
  res.setHeader('Content-Type', JSON_TYPE);
  res.setHeader('Content-Length', bytes.length);
  res.end(bytes);
}

export function sendApiError(res: Response, status: number, code: string, message: string, extra: Record<string, unknown> = {}): void {
  const requestid = randomUUID().toUpperCase();
  res.set('x-acs-request-id', requestid).set('x-acs-trace-id', randomBytes(16).toString('hex'));
  sendJson(res, status, { code, requestid, message, ...extra });
}

/** The Alibaba API gateway's wording for an absent parameter, e.g. `MissingclientId`. */
export function sendApiMissing(res: Response, field: string): void {
  sendApiError(res, 400, `Missing${field}`, `${field} is mandatory for this action.`);
}

export function sendApiNotFound(res: Response): void {
  sendApiError(res, 404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.');
}

export const oapiMessages: Record<number, string> = {
  [-1]: '系统繁忙',
  40014: '不合法的access_token',
  40035: '缺少参数',
  40078: '不存在的临时授权码',
  40096: '不合法的appKey或appSecret',
  43002: '需要POST请求',
  60003: '部门不存在',
  60011: '管理员权限不足，（user/department/agent）无权限',
  60020: '访问ip不在白名单之中',
  60121: '找不到该用户',
  90002: '当前接口全局调用量超过限制，请稍后再试',
  90018: '当前应用调用该接口的频率超过限制，请稍后再试',
  90019: '当前企业调用该接口的频率超过限制，请稍后再试',
  400002: '无效的参数',
};

export function sendOapiError(res: Response, errcode: number, errmsg?: string): void {
  sendJson(res, 200, { errcode, errmsg: errmsg ?? oapiMessages[errcode] ?? 'error' });
}

export function sendOapiResult(res: Response, result: unknown): void {
  sendJson(res, 200, { errcode: 0, errmsg: 'ok', result, request_id: randomBytes(6).toString('hex') });
}

/** Real text: `…app-faq,request ip=120.230.136.230 appKey(dingmf6…)` (see test/fixtures/dingtalk). */
export function ipNotAllowedMessage(ip: string, appKey: string): string {
  return `访问ip不在白名单之中，请参考FAQ：https://open.dingtalk.com/document/org-faq/app-faq,request ip=${ip} appKey(${appKey})`;
}

/** How an oapi errcode fault looks on an api.dingtalk.com path. */
export function apiErrorForErrcode(errcode: number, errmsg?: string): { status: number; code: string; message: string } {
  const message = errmsg ?? oapiMessages[errcode] ?? 'error';
  switch (errcode) {
    case -1:
      return { status: 503, code: 'ServiceUnavailable', message };
    case 40014:
      return { status: 400, code: 'InvalidAuthentication', message };
    case 60020:
      return { status: 403, code: 'Forbidden.AccessDenied.IpNotInWhiteList', message };
    case 90002:
      return { status: 403, code: 'Forbidden.AccessDenied.QpsLimitForApi', message };
    case 90018:
    case 90019:
      return { status: 403, code: 'Forbidden.AccessDenied.QpsLimitForAppkeyAndApi', message };
    default:
      return { status: 400, code: String(errcode), message };
  }
}
