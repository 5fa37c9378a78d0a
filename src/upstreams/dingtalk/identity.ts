/**
 * What DingTalk said about a person → UpstreamIdentity (docs/architecture.md, "Accounts and claims").
 * - subject: the unionId. openId is per app; unionId is stable across one developer account's
 *   apps, so accounts survive replacing the app (docs/reference/dingtalk.md).
 * - email: the organisation mailbox (`org_email`, verified) or else the admin-entered `email`
 *   (unverified). The personal email of users/me is never used: anyone can type any address there.
 * - phone: E.164 from state_code + mobile; DingTalk verified the number at sign-up.
 */
import { toE164 } from '../phone-number.js';
import type { UpstreamIdentity, UsernameHint } from '../types.js';

export interface IdentitySettings {
  upstream: string;
  linkDomain: string;
  linkKey: 'unionId' | 'userid';
}

/** users/me (login only). */
export interface LoginProfile {
  unionId: string;
  nick?: string;
  avatarUrl?: string;
  mobile?: string;
  stateCode?: string;
}

/** The organisation's view: getbyunionid + v2/user/get + departments. */
export interface MemberView {
  userid: string;
  details: Record<string, unknown>;
  groups: string[];
}

export interface IdentityInput {
  unionId: string;
  corpId?: string;
  member?: MemberView;
  profile?: LoginProfile;
  /** On a recheck: what the last login saw, for the fields only users/me gives. */
  previous?: UpstreamIdentity;
}

/** What a recheck needs; never tokens. */
export interface ConnectorData {
  userid?: string;
  unionId: string;
  corpId?: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);

function emailOf(value: unknown): string | undefined {
  const email = text(value);
  return email !== undefined && EMAIL.test(email) && email.length <= 254 ? email : undefined;
}

function httpUrl(value: unknown): string | undefined {
  const url = text(value);
  return url !== undefined && /^https?:\/\//i.test(url) && URL.canParse(url) ? url : undefined;
}

/** `state_code` "86" + mobile "13800000001" → "+8613800000001"; without a country code, a Chinese mobile is assumed. */
export function phoneOf(stateCode: unknown, mobile: unknown): string | undefined {
  const number = text(typeof mobile === 'number' ? String(mobile) : mobile)?.replace(/[\s\-().]/g, '');
  if (number === undefined) return undefined;
  if (number.startsWith('+')) return toE164(number);
  const cc = text(stateCode)?.replace(/^\+/, '');
  if (cc !== undefined && /^\d{1,4}$/.test(cc)) {
    const e164 = toE164(`+${cc}${number.replace(/^0+/, '')}`);
    return e164?.startsWith(`+${cc}`) ? e164 : undefined;
  }
  return toE164(number);
}

export function buildIdentity(settings: IdentitySettings, input: IdentityInput): UpstreamIdentity {
  const { member, profile, previous } = input;
  const d = member?.details ?? {};
  const orgEmail = emailOf(d.org_email);
  const adminEmail = emailOf(d.email);
  const email = orgEmail ?? adminEmail;
  const phoneNumber = phoneOf(d.state_code, d.mobile) ?? phoneOf(profile?.stateCode, profile?.mobile) ?? previous?.phoneNumber;
  const jobNumber = text(d.job_number);
  const title = text(d.title);
  const name = text(d.name) ?? text(profile?.nick) ?? previous?.name;
  const picture = httpUrl(d.avatar) ?? httpUrl(profile?.avatarUrl) ?? previous?.picture;

  const hints: UsernameHint[] = [];
  if (orgEmail) hints.push({ source: 'orgEmail', value: orgEmail });
  if (adminEmail) hints.push({ source: 'email', value: adminEmail });
  if (jobNumber) hints.push({ source: 'jobNumber', value: jobNumber });
  if (member) hints.push({ source: 'userid', value: member.userid });

  const extra: Record<string, unknown> = { dingtalk_unionid: input.unionId };
  if (member) extra.dingtalk_userid = member.userid;
  if (input.corpId) extra.dingtalk_corp_id = input.corpId;
  if (jobNumber) extra.job_number = jobNumber;
  if (title) extra.title = title;

  const connectorData: ConnectorData = { unionId: input.unionId };
  if (member) connectorData.userid = member.userid;
  if (input.corpId) connectorData.corpId = input.corpId;

  return {
    upstream: settings.upstream,
    subject: input.unionId,
    linkDomain: settings.linkDomain,
    // The caller guarantees a member when linking by userid.
    linkKey: settings.linkKey === 'userid' ? member!.userid : input.unionId,
    ...(name === undefined ? {} : { name }),
    ...(email === undefined ? {} : { email, emailVerified: orgEmail !== undefined }),
    ...(phoneNumber === undefined ? {} : { phoneNumber, phoneNumberVerified: true }),
    ...(picture === undefined ? {} : { picture }),
    usernameHints: hints,
    groups: member?.groups ?? [],
    extra,
    connectorData: JSON.stringify(connectorData),
  };
}

/** The recheck's inputs from a stored identity: connectorData, else the ids in `extra`. */
export function connectorDataOf(identity: UpstreamIdentity): ConnectorData | undefined {
  let parsed: unknown;
  try {
    parsed = identity.connectorData === undefined ? undefined : JSON.parse(identity.connectorData);
  } catch {
    parsed = undefined;
  }
  const data = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const unionId = text(data.unionId) ?? text(identity.extra.dingtalk_unionid) ?? text(identity.subject);
  if (unionId === undefined) return undefined;
  const userid = text(data.userid) ?? text(identity.extra.dingtalk_userid);
  const corpId = text(data.corpId) ?? text(identity.extra.dingtalk_corp_id);
  return { unionId, ...(userid === undefined ? {} : { userid }), ...(corpId === undefined ? {} : { corpId }) };
}
