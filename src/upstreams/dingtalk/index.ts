/**
 * The DingTalk upstream: one internal app of one organisation (docs/architecture.md, "Decisions"). Sign-in is
 * DingTalk's OAuth2 v1.0 (统一登录), or the legacy QR login (`mode: legacy-sns`), and inside the
 * DingTalk app its in-app code (免登, ./in-app.ts); membership, profile and departments come from the
 * organisation's contacts with the app token; `recheck` asks the contacts again on refresh and
 * when a browser session is reused. Vendor facts: docs/reference/dingtalk.md.
 */
import { dingtalkLinkDomainOf, type DingTalkUpstreamConfig } from '../../config/schema.js';
import type { SealedRecords } from '../../store/sealed-records.js';
import type { Store } from '../../store/types.js';
import { safeCode } from '../fetch-json.js';
import { httpFetch } from '../http-fetch.js';
import type { Connector, UpstreamError, UpstreamIdentity } from '../types.js';
import { createAppTokens } from './app-token.js';
import { upstreamErrorFor } from './classify.js';
import { createClient, DingTalkCallError, type DingTalkLog } from './client.js';
import { LOGIN_SCOPE } from './constants.js';
import { createDepartments } from './departments.js';
import { buildIdentity, connectorDataOf, type IdentitySettings, type LoginProfile, type MemberView } from './identity.js';
import { createInAppLogin } from './in-app.js';
import { exchangeSnsCode, legacyAuthorizeUrl, type LegacySnsContext } from './legacy-sns.js';
import { exchangeCode, fetchProfile, type LoginContext } from './login.js';
import { lookupMember, type MemberAnswer, type MemberDeps } from './member.js';
import { dingtalkError } from './messages.js';
import { createOrgApi } from './org-api.js';

export interface DingTalkDeps {
  /** The shared store (required; optional only to fit UpstreamDeps): the app token and department names are cached there for every replica. */
  store?: Store;
  /** The app token's place in the store, encrypted with `store.encryptionKeys`; default: in the clear. */
  secrets?: SealedRecords;
  log: DingTalkLog;
  fetch?: typeof fetch;
  /** Epoch milliseconds. */
  now?: () => number;
}

export { dingtalkError, causeOf, type Cause } from './messages.js';
export { snsSignature } from './legacy-sns.js';
export type { DingTalkLog } from './client.js';

const DEFAULT_DISPLAY_NAME = { 'zh-CN': '钉钉', en: 'DingTalk' };

/** Parameters the bridge sets itself; `extra` cannot override them (DingTalk's `prompt` is fixed to consent). */
const PROTOCOL_PARAMS = new Set(['client_id', 'redirect_uri', 'response_type', 'scope', 'corpId', 'prompt', 'state']);

export function authorizeUrl(
  config: DingTalkUpstreamConfig,
  callbackUrl: string,
  state: string,
  extra: Record<string, string> = {},
): string {
  const url = new URL(config.endpoints.authorize);
  for (const [key, value] of Object.entries(extra)) if (!PROTOCOL_PARAMS.has(key)) url.searchParams.set(key, value);
  url.searchParams.set('client_id', config.clientId);
  url.searchParams.set('redirect_uri', callbackUrl);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', LOGIN_SCOPE);
  // Preselects the organisation at DingTalk, so a person in several picks the right one.
  if (config.corpId) url.searchParams.set('corpId', config.corpId);
  url.searchParams.set('prompt', 'consent');
  url.searchParams.set('state', state);
  return url.href;
}

export function openDingTalk(config: DingTalkUpstreamConfig, deps: DingTalkDeps): Connector {
  const upstream = config.id;
  const { store, log } = deps;
  if (!store) throw new TypeError(`upstream ${upstream}: a DingTalk upstream needs the shared store (app token cache)`);
  const now = deps.now ?? Date.now;
  const client = createClient({ upstream, endpoints: config.endpoints, fetch: deps.fetch ?? httpFetch, timeoutMs: config.timeoutMs, log });
  const tokens = createAppTokens({
    upstream,
    appKey: config.clientId,
    appSecret: config.clientSecret,
    client,
    store,
    ...(deps.secrets ? { secrets: deps.secrets } : {}),
    log,
    timeoutMs: config.timeoutMs,
    now,
  });
  const org = createOrgApi(client, tokens);
  const memberDeps: MemberDeps = {
    org,
    departments: createDepartments({ org, store, scope: config.corpId ?? config.clientId }),
    groups: config.groups,
  };
  const settings: IdentitySettings = { upstream, linkDomain: dingtalkLinkDomainOf(config), linkKey: config.linkKey };
  const loginCtx: LoginContext = {
    upstream,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    client,
    timeoutMs: config.timeoutMs,
  };
  const enforced = !config.allowAnyDingTalkUser;

  async function ask(unionId: string): Promise<MemberAnswer> {
    try {
      return await lookupMember(memberDeps, unionId);
    } catch (err) {
      throw err instanceof DingTalkCallError ? upstreamErrorFor(upstream, err, config.timeoutMs) : err;
    }
  }

  /**
   * The one path from "DingTalk says this is unionId X" to the identity, for every way in (the
   * current login, the in-app code, the legacy QR login): membership, details, departments.
   * `chosenCorpId` is the organisation the person picked at DingTalk, where the login says.
   */
  async function identify(profile: LoginProfile, chosenCorpId: string | undefined): Promise<UpstreamIdentity> {
    let member: MemberView | undefined;
    if (enforced || config.corpId) {
      const answer = await ask(profile.unionId);
      if (answer.kind === 'member') member = answer.view;
      else if (enforced) {
        log.info({ upstream, refused: answer.cause, code: answer.code }, 'DingTalk sign-in refused');
        throw dingtalkError(upstream, answer.cause, { code: answer.code });
      }
    }
    if (config.linkKey === 'userid' && !member) throw dingtalkError(upstream, 'no_userid');
    // A non-member (allowAnyDingTalkUser) belongs to whichever organisation they chose at DingTalk.
    return buildIdentity(settings, { unionId: profile.unionId, corpId: member ? config.corpId : chosenCorpId, member, profile });
  }

  async function login(code: string): Promise<UpstreamIdentity> {
    const token = await exchangeCode(loginCtx, code);
    if (enforced && token.corpId !== config.corpId) {
      log.info({ upstream, refused: 'wrong_org' }, 'DingTalk sign-in refused');
      throw dingtalkError(upstream, 'wrong_org', { params: { chosen: token.corpId ?? '(none)', corpId: config.corpId ?? '' } });
    }
    // The user token serves this one call and goes out of scope with it: it is kept nowhere.
    return identify(await fetchProfile(loginCtx, token), token.corpId);
  }

  const legacy: LegacySnsContext | undefined =
    config.mode === 'legacy-sns'
      ? { upstream, appId: config.legacyAppId!, appSecret: config.legacyAppSecret!, client, timeoutMs: config.timeoutMs, now }
      : undefined;

  /** The legacy QR login names no organisation: the person's is the one the membership check finds. */
  async function legacyLogin(code: string): Promise<UpstreamIdentity> {
    return identify(await exchangeSnsCode(legacy!, code), undefined);
  }

  /** Uncached: membership and profile straight from the contacts (department names may come from the cache). */
  async function recheck(identity: UpstreamIdentity): Promise<UpstreamIdentity | 'revoked'> {
    const data = connectorDataOf(identity);
    if (!data) return 'revoked';
    const answer = await ask(data.unionId);
    if (answer.kind === 'gone') {
      log.info({ upstream, revoked: answer.cause, code: answer.code }, 'DingTalk recheck: no longer a member');
      return 'revoked';
    }
    // Linked by userid: a new userid for the same unionId is a new membership, not this account.
    if (config.linkKey === 'userid' && data.userid !== undefined && data.userid !== answer.view.userid) return 'revoked';
    return buildIdentity(settings, { unionId: data.unionId, corpId: config.corpId, member: answer.view, previous: identity });
  }

  /** The callback carries `authCode` (v1.0 login) or `code` (the legacy login, some proxies), or `error`. */
  async function handleCallback({ params }: { params: URLSearchParams }): Promise<UpstreamIdentity> {
    const error = params.get('error');
    if (error !== null) throw loginError(upstream, error);
    const code = legacy ? params.get('code') : params.get('authCode') || params.get('code');
    if (!code) throw dingtalkError(upstream, 'no_code');
    return legacy ? legacyLogin(code) : login(code);
  }

  const inApp = config.inAppLogin.enabled && config.corpId ? createInAppLogin(config, config.corpId, { org, identify }) : undefined;

  return {
    id: upstream,
    type: 'dingtalk',
    displayName: config.displayName ?? DEFAULT_DISPLAY_NAME,
    loginUrl: ({ callbackUrl, state, extra }) =>
      legacy
        ? legacyAuthorizeUrl(config.endpoints.legacyAuthorize, legacy.appId, callbackUrl, state, extra)
        : authorizeUrl(config, callbackUrl, state, extra),
    handleCallback,
    ...(inApp ? { inApp } : {}),
    // With allowAnyDingTalkUser there is no membership to recheck.
    ...(enforced ? { recheck } : {}),
  };
}

function loginError(upstream: string, error: string): UpstreamError {
  const shown = safeCode(error) ?? 'invalid';
  const cause = /denied|cancel|reject|refuse/i.test(shown) ? 'denied' : 'login_error';
  return dingtalkError(upstream, cause, { code: shown, params: { error: shown } });
}
