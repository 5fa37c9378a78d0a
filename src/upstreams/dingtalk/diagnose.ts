/**
 * `oidc-bridge doctor` for a DingTalk upstream: fetch the app token as the bridge does (never the
 * cached one: a cache would hide a wrong secret), then call each organisation API the bridge uses
 * once. Without a person to look up, the lookups ask for an id that does not exist: DingTalk answers
 * 60121 / 33012 ("no such user") only to an app that may call the API, so that answer proves the
 * permission. The root department (id 1) is read too: only an app whose contacts scope is the whole
 * organisation sees it. Facts: docs/reference/dingtalk.md.
 */
import type { DingTalkUpstreamConfig } from '../../config/schema.js';
import { openMemoryStore } from '../../store/memory.js';
import { UpstreamError } from '../types.js';
import { createAppTokens } from './app-token.js';
import { upstreamErrorFor } from './classify.js';
import { createClient, DingTalkCallError, type DingTalkLog } from './client.js';
import { ERRCODE, OAPI, ROOT_DEPT_ID } from './constants.js';
import { createOrgApi, type OrgApi } from './org-api.js';

/** An id no organisation has: DingTalk's ids are alphanumeric and this one is far longer than any issued. */
export const PROBE_ID = 'oidc-bridge-doctor-probe-0000000000';

export interface DingTalkProbe {
  /** The API called (a path below endpoints.oapi). */
  api: string;
  /** The console permission the call needs (权限管理). */
  permission: string;
  /** 'ok', or DingTalk's refusal as the bridge would show it (src/upstreams/dingtalk/messages.ts). */
  outcome: 'ok' | UpstreamError;
}

export type DingTalkDiagnosis = { token: UpstreamError } | { token: 'ok'; probes: DingTalkProbe[] };

export interface DiagnoseDeps {
  fetch: typeof fetch;
  timeoutMs: number;
  log?: DingTalkLog;
}

const QUIET: DingTalkLog = { info() {}, warn() {} };

const PROBES: { api: string; permission: string; call(org: OrgApi): Promise<unknown>; gone: readonly number[] }[] = [
  { api: OAPI.getByUnionId, permission: 'qyapi_get_member', call: (org) => org.byUnionId(PROBE_ID), gone: [ERRCODE.notFound] },
  { api: OAPI.userGet, permission: 'qyapi_get_member', call: (org) => org.user(PROBE_ID), gone: [ERRCODE.notFound, ERRCODE.invalidUserid] },
  {
    api: OAPI.listParentByUser,
    permission: 'qyapi_get_department_list',
    call: (org) => org.parentChains(PROBE_ID),
    // The page of listparentbyuser documents 33012 for an unknown userid; 60121 as for the others.
    gone: [ERRCODE.notFound, ERRCODE.invalidUserid],
  },
  { api: OAPI.departmentGet, permission: 'qyapi_get_department_list', call: (org) => org.department(ROOT_DEPT_ID), gone: [] },
];

export async function diagnoseDingTalk(config: DingTalkUpstreamConfig, deps: DiagnoseDeps): Promise<DingTalkDiagnosis> {
  const upstream = config.id;
  const log = deps.log ?? QUIET;
  const client = createClient({ upstream, endpoints: config.endpoints, fetch: deps.fetch, timeoutMs: deps.timeoutMs, log });
  const store = openMemoryStore();
  try {
    const tokens = createAppTokens({
      upstream,
      appKey: config.clientId,
      appSecret: config.clientSecret,
      client,
      store,
      log,
      timeoutMs: deps.timeoutMs,
      now: Date.now,
    });
    try {
      await tokens.get();
    } catch (err) {
      if (err instanceof UpstreamError) return { token: err };
      throw err;
    }
    const org = createOrgApi(client, tokens);
    const probes: DingTalkProbe[] = [];
    // One after another: DingTalk throttles bursts per app (docs/reference/dingtalk.md, "Rate limits").
    for (const probe of PROBES) {
      probes.push({ api: probe.api, permission: probe.permission, outcome: await outcomeOf(probe, org, upstream, deps.timeoutMs) });
    }
    return { token: 'ok', probes };
  } finally {
    await store.close();
  }
}

async function outcomeOf(probe: (typeof PROBES)[number], org: OrgApi, upstream: string, timeoutMs: number): Promise<'ok' | UpstreamError> {
  try {
    await probe.call(org);
    return 'ok';
  } catch (err) {
    if (!(err instanceof DingTalkCallError)) throw err;
    if (err.errcode !== undefined && probe.gone.includes(err.errcode)) return 'ok';
    return upstreamErrorFor(upstream, err, timeoutMs);
  }
}
