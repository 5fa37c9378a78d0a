/**
 * Every way a DingTalk sign-in or lookup can fail, as an UpstreamError whose `detail.text` names the
 * cause and the fix in both UI languages. The texts are shown on the error page: they carry ids the
 * operator needs (an IP, a scope name, a corpId) and never a token, secret or code.
 */
import { UpstreamError, type UpstreamErrorReason } from '../types.js';

export type Cause =
  | 'denied'
  | 'login_error'
  | 'no_code'
  | 'code_rejected'
  | 'wrong_org'
  | 'not_member'
  | 'external_contact'
  | 'missing_scopes'
  | 'ip_not_allowed'
  | 'out_of_scope'
  | 'bad_app_credentials'
  | 'legacy_credentials'
  | 'endpoint_not_found'
  | 'app_not_permitted'
  | 'rate_limited'
  | 'busy'
  | 'timeout'
  | 'unreachable'
  | 'bad_response'
  | 'token_rejected'
  | 'bad_profile'
  | 'no_userid'
  | 'other';

type Params = Record<string, string>;

interface Entry {
  reason: UpstreamErrorReason;
  zh(p: Params): string;
  en(p: Params): string;
}

const CONSOLE_ZH = '钉钉开发者后台（open-dev.dingtalk.com）';
const CONSOLE_EN = 'the DingTalk developer console (open-dev.dingtalk.com)';

const CATALOGUE: Record<Cause, Entry> = {
  denied: {
    reason: 'denied',
    zh: () => '你在钉钉取消了登录授权。如需继续，请重新登录并在钉钉中同意授权。',
    en: () => 'You cancelled the sign-in at DingTalk. To continue, start again and approve it in DingTalk.',
  },
  login_error: {
    reason: 'failed',
    zh: (p) => `钉钉登录返回错误（${p.error}）。请重新登录。`,
    en: (p) => `DingTalk reported a sign-in error (${p.error}). Start again.`,
  },
  no_code: {
    reason: 'failed',
    zh: () => '钉钉没有返回登录码。请重新登录。',
    en: () => 'DingTalk sent no sign-in code back. Start again.',
  },
  code_rejected: {
    reason: 'failed',
    zh: () => '钉钉登录码已被使用或已过期。请重新登录。',
    en: () => 'The sign-in code was already used or expired — start again.',
  },
  wrong_org: {
    reason: 'not_allowed',
    zh: (p) => `你在钉钉中选择的组织（${p.chosen}）不是本系统允许的组织（${p.corpId}）。请重新登录，并在钉钉中选择该组织。`,
    en: (p) =>
      `You chose another organisation (${p.chosen}) in DingTalk; only members of ${p.corpId} may sign in here. Start again and choose that organisation in DingTalk.`,
  },
  not_member: {
    reason: 'not_allowed',
    zh: () => '你的钉钉账号不是本组织的成员（或已离职）。如你应能登录，请联系管理员把你加入组织通讯录。',
    en: () =>
      "Your DingTalk account is not (or no longer) a member of this organisation. If you should have access, ask an administrator to add you to the organisation's contacts.",
  },
  external_contact: {
    reason: 'not_allowed',
    zh: () => '你是本组织的外部联系人，只有组织内部成员可以登录。如你应能登录，请联系管理员把你加入组织通讯录。',
    en: () =>
      "You are an external contact of this organisation; only its own members may sign in. If you should have access, ask an administrator to add you to the organisation's contacts.",
  },
  missing_scopes: {
    reason: 'misconfigured',
    zh: (p) => `钉钉应用缺少接口权限：${p.scopes}。请管理员在${CONSOLE_ZH}的「权限管理」中为应用申请并开通这些权限，然后重试。`,
    en: (p) =>
      `The DingTalk app lacks the permission(s) ${p.scopes}. An administrator must grant them under 权限管理 (permissions) in ${CONSOLE_EN}, then try again.`,
  },
  ip_not_allowed: {
    reason: 'misconfigured',
    zh: (p) =>
      `钉钉拒绝了来自服务器 IP ${p.ip} 的调用。请管理员在${CONSOLE_ZH}中把 ${p.ip} 加入应用的「服务器出口IP」白名单（在 NAT 网关之后时填写网关的公网 IP）。`,
    en: (p) =>
      `DingTalk refused calls from the server IP ${p.ip}. An administrator must add ${p.ip} to the app's 服务器出口IP (server egress IP) allow-list in ${CONSOLE_EN} (behind a NAT gateway: the gateway's public IP).`,
  },
  out_of_scope: {
    reason: 'misconfigured',
    zh: () => `你不在钉钉应用的通讯录权限范围内。请管理员在${CONSOLE_ZH}中扩大应用的「通讯录权限范围」，使其覆盖所有需要登录的人。`,
    en: () =>
      `You are outside the DingTalk app's contacts scope. An administrator must widen 通讯录权限范围 (contacts scope) in ${CONSOLE_EN} so that it covers everyone who may sign in.`,
  },
  bad_app_credentials: {
    reason: 'misconfigured',
    zh: () => '钉钉拒绝了应用的 AppKey/AppSecret。请管理员检查配置中的 clientId 与 clientSecret 是否与钉钉应用一致。',
    en: () =>
      "DingTalk rejected the app's AppKey/AppSecret. An administrator must check that clientId and clientSecret in the configuration match the DingTalk app.",
  },
  legacy_credentials: {
    reason: 'misconfigured',
    zh: (p) =>
      `钉钉拒绝了旧版扫码登录应用的签名请求（${p.message}）。请管理员检查配置中的 legacyAppId 与 legacyAppSecret 是否与钉钉扫码登录应用一致，并确认服务器时钟准确。`,
    en: (p) =>
      `DingTalk refused the signed request of the legacy QR-login app (${p.message}). An administrator must check that legacyAppId and legacyAppSecret in the configuration match the DingTalk login app, and that the server's clock is right.`,
  },
  endpoint_not_found: {
    reason: 'misconfigured',
    zh: (p) => `钉钉接口 ${p.api} 不存在。请管理员检查配置中的 endpoints 地址。`,
    en: (p) => `DingTalk has no API at ${p.api}. An administrator must check the upstream's endpoints in the configuration.`,
  },
  app_not_permitted: {
    reason: 'misconfigured',
    zh: (p) => `钉钉拒绝了应用对 ${p.api} 的调用（${p.message}）。请管理员在${CONSOLE_ZH}中检查应用的权限。`,
    en: (p) =>
      `DingTalk refused the app's call to ${p.api} (${p.message}). An administrator must check the app's permissions in ${CONSOLE_EN}.`,
  },
  rate_limited: {
    reason: 'unavailable',
    zh: () => '钉钉当前限制了调用频率。请稍后（约一分钟后）再试。',
    en: () => 'DingTalk is limiting requests right now. Try again in a minute.',
  },
  busy: {
    reason: 'unavailable',
    zh: () => '钉钉服务繁忙。请稍后再试。',
    en: () => 'DingTalk is busy. Try again in a moment.',
  },
  timeout: {
    reason: 'unavailable',
    zh: (p) => `钉钉在 ${p.timeoutMs} 毫秒内没有响应。请稍后再试。`,
    en: (p) => `DingTalk did not answer within ${p.timeoutMs} ms. Try again later.`,
  },
  unreachable: {
    reason: 'unavailable',
    zh: () => '无法连接钉钉。请稍后再试；如持续出现，请管理员检查服务器的外网连接。',
    en: () => "DingTalk could not be reached. Try again later; if it persists, an administrator must check the server's outbound network.",
  },
  bad_response: {
    reason: 'unavailable',
    zh: () => '钉钉返回了无法识别的应答（可能触发了访问频率防护）。请稍后再试。',
    en: () => 'DingTalk answered something unexpected (possibly its anti-abuse protection). Try again later.',
  },
  token_rejected: {
    reason: 'failed',
    zh: () => '钉钉不接受刚获取的访问凭证。请稍后重试。',
    en: () => 'DingTalk rejected a freshly issued access token. Try again later.',
  },
  bad_profile: {
    reason: 'failed',
    zh: () => '钉钉返回的用户信息不完整。请重新登录。',
    en: () => 'DingTalk returned an incomplete profile. Start again.',
  },
  no_userid: {
    reason: 'not_allowed',
    zh: () => '本系统按组织内的 userid 识别用户，而你的钉钉账号不属于本组织。',
    en: () => 'This sign-in links people by their organisation userid, and your DingTalk account is not in the organisation.',
  },
  other: {
    reason: 'failed',
    zh: (p) => `钉钉返回错误 ${p.code}：${p.message}。请重试；如持续出现，请联系管理员。`,
    en: (p) => `DingTalk answered error ${p.code}: ${p.message}. Try again; if it persists, contact an administrator.`,
  },
};

export interface ErrorContext {
  /** DingTalk's own code (errcode or v1.0 code), when it gave one. */
  code?: string;
  params?: Params;
  cause?: unknown;
}

/** The UpstreamError for `cause`; `detail.code` is DingTalk's code when it gave one, else the cause. */
export function dingtalkError(upstream: string, cause: Cause, context: ErrorContext = {}): UpstreamError {
  const entry = CATALOGUE[cause];
  // DingTalk's own code is a parameter of every message too (`other` shows it).
  const params: Record<string, string> = { ...(context.code === undefined ? {} : { code: context.code }), ...context.params };
  const text = { 'zh-CN': entry.zh(params), en: entry.en(params) };
  return new UpstreamError(
    upstream,
    entry.reason,
    `${cause}: ${text.en}`,
    { code: context.code ?? cause, params: { cause, ...params }, text },
    context.cause === undefined ? undefined : { cause: context.cause },
  );
}

/** The cause an UpstreamError built here stands for. */
export function causeOf(err: UpstreamError): Cause | undefined {
  const cause = err.detail.params?.cause;
  return cause !== undefined && Object.hasOwn(CATALOGUE, cause) ? (cause as Cause) : undefined;
}
