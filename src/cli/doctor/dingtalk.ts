/**
 * Each DingTalk upstream against the live API (src/upstreams/dingtalk/diagnose.ts): the app token,
 * the permission behind each organisation API the bridge calls, the contacts scope, and this
 * host's egress IP on the app's allow-list (60020 names the IP DingTalk saw). The texts are the
 * ones the bridge's error pages show (src/upstreams/dingtalk/messages.ts).
 */
import type { Config, DingTalkUpstreamConfig } from '../../config/schema.js';
import { causeOf } from '../../upstreams/dingtalk/messages.js';
import { diagnoseDingTalk, type DingTalkProbe } from '../../upstreams/dingtalk/diagnose.js';
import type { UpstreamError } from '../../upstreams/types.js';
import { error, ok, warning, type CheckContext, type Finding } from './findings.js';
import { explainNetworkError, probe } from './probe.js';

const CONSOLE = 'the DingTalk developer console (open-dev.dingtalk.com)';
const PUBLISH = 'then publish a new version of the app (版本管理与发布) so the change takes effect';

export async function checkDingTalk(config: Config, ctx: CheckContext): Promise<Finding[]> {
  const upstreams = config.upstreams.filter((u): u is DingTalkUpstreamConfig => u.type === 'dingtalk');
  const findings: Finding[] = [];
  for (const upstream of upstreams) findings.push(...(await checkOne(upstream, ctx)));
  return findings;
}

async function checkOne(upstream: DingTalkUpstreamConfig, ctx: CheckContext): Promise<Finding[]> {
  const subject = `upstream ${upstream.id}`;
  const findings: Finding[] = [];
  const login = await probe(ctx, upstream.endpoints.authorize);
  findings.push(
    login.ok
      ? ok('upstream.reachable', subject, `${new URL(upstream.endpoints.authorize).host} answers`)
      : error(
          'upstream.reachable',
          subject,
          login.problem.message,
          `${login.problem.fix} Browsers reach it, not the bridge; check it from a browser too.`,
        ),
  );
  const diagnosis = await diagnoseDingTalk(upstream, { fetch: ctx.fetch, timeoutMs: ctx.timeoutMs });
  if (diagnosis.token !== 'ok') return [...findings, tokenFinding(upstream, diagnosis.token)];
  findings.push(ok('dingtalk.app-token', subject, `app ${upstream.clientId} obtains its app token`));
  // One refusal (an unlisted IP, an unreachable host) meets every call alike: report it once.
  const probed = diagnosis.probes.map((result) => probeFinding(upstream, result));
  const once = probed.filter((f, i) => f.severity === 'ok' || probed.findIndex((g) => g.id === f.id && g.message === f.message) === i);
  if (!once.some((f) => f.id === 'dingtalk.ip-allowlist'))
    findings.push(ok('dingtalk.ip-allowlist', subject, "this host's egress IP is allowed"));
  return [...findings, ...once];
}

/** The finding for a refusal that means the same whichever call met it; undefined for the call-specific ones. */
function commonFinding(upstream: DingTalkUpstreamConfig, err: UpstreamError, id: string): Finding | undefined {
  const subject = `upstream ${upstream.id}`;
  const cause = causeOf(err);
  const text = err.detail.text?.en ?? err.message;
  switch (cause) {
    case 'ip_not_allowed': {
      const ip = err.detail.params?.ip ?? '(unknown)';
      return error(
        'dingtalk.ip-allowlist',
        subject,
        `DingTalk refused calls from ${ip}, this host's egress IP (60020)`,
        `Add ${ip} to the app's 服务器出口IP (server egress IP) allow-list in ${CONSOLE}. In Kubernetes it is the cluster's NAT gateway address; every node or gateway the bridge's traffic can leave from must be listed.`,
      );
    }
    case 'timeout':
    case 'unreachable': {
      const base = err.detail.params?.api?.startsWith('/topapi') ? upstream.endpoints.oapi : upstream.endpoints.api;
      const problem = explainNetworkError(base, err, 0);
      return error('upstream.reachable', subject, cause === 'timeout' ? text : problem.message, problem.fix);
    }
    case 'rate_limited':
    case 'busy':
      return warning(
        id,
        subject,
        text,
        'Run doctor again in a minute; if it persists, look for another process calling DingTalk with this app.',
      );
    case 'bad_response':
    case 'endpoint_not_found':
      return error(
        id,
        subject,
        text,
        "Check the upstream's endpoints (api: https://api.dingtalk.com, oapi: https://oapi.dingtalk.com), and any proxy in between.",
      );
    default:
      return undefined;
  }
}

function tokenFinding(upstream: DingTalkUpstreamConfig, err: UpstreamError): Finding {
  const common = commonFinding(upstream, err, 'dingtalk.app-token');
  if (common) return common;
  return error(
    'dingtalk.app-token',
    `upstream ${upstream.id}`,
    `app ${upstream.clientId} cannot obtain its app token: ${err.detail.text?.en ?? err.message}`,
    `Set clientId to the app's AppKey and clientSecret to its AppSecret (${CONSOLE}, 凭证与基础信息); a secret reset in the console invalidates the old one.`,
  );
}

function probeFinding(upstream: DingTalkUpstreamConfig, result: DingTalkProbe): Finding {
  const subject = `upstream ${upstream.id}`;
  const isRoot = result.api.endsWith('/department/get');
  const id = isRoot ? 'dingtalk.contacts-scope' : 'dingtalk.permission';
  if (result.outcome === 'ok') {
    return ok(
      id,
      subject,
      isRoot ? 'the contacts scope covers the whole organisation (root department visible)' : `${result.api}: ${result.permission} granted`,
    );
  }
  const common = commonFinding(upstream, result.outcome, id);
  if (common) return common;
  const code = result.outcome.detail.code ?? '';
  if (isRoot) {
    return error(
      id,
      subject,
      `the app cannot read the organisation's root department (${code}): its contacts scope is narrower than the whole organisation, or ${result.permission} is not granted; people outside the scope cannot sign in`,
      `In ${CONSOLE}: set 通讯录权限范围 (contacts scope) to 全部员工 (everyone) and grant 部门信息读权限 (${result.permission}); ${PUBLISH}.`,
    );
  }
  return error(
    id,
    subject,
    `${result.api} is refused (${code}): the app lacks ${result.permission}; ${result.outcome.detail.text?.en ?? result.outcome.message}`,
    `Grant ${result.permission} under 权限管理 (permissions) in ${CONSOLE}; ${PUBLISH}.`,
  );
}
