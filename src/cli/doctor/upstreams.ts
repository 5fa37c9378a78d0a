/**
 * Whether each oauth2 and oidc upstream answers from here: every endpoint host reached over DNS,
 * TCP and TLS with any HTTP answer, and for an oidc upstream its discovery document naming exactly
 * the configured issuer (what src/upstreams/oidc/index.ts insists on at the first login). DingTalk
 * upstreams are checked by ./dingtalk.ts, with the app's own credentials.
 */
import type { Config, OAuth2UpstreamConfig, OidcUpstreamConfig } from '../../config/schema.js';
import { resolveOAuth2Config } from '../../upstreams/oauth2/config.js';
import { error, ok, type CheckContext, type Finding } from './findings.js';
import { difference } from './issuer.js';
import { probe } from './probe.js';

export async function checkUpstreams(config: Config, ctx: CheckContext): Promise<Finding[]> {
  const findings: Finding[][] = await Promise.all(
    config.upstreams.map((upstream) => {
      if (upstream.type === 'oidc') return checkOidc(upstream, ctx);
      if (upstream.type === 'oauth2') return checkOAuth2(upstream, ctx);
      return Promise.resolve([]);
    }),
  );
  return findings.flat();
}

async function checkOidc(upstream: OidcUpstreamConfig, ctx: CheckContext): Promise<Finding[]> {
  const subject = `upstream ${upstream.id}`;
  const url = `${upstream.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const result = await probe(ctx, url);
  if (!result.ok) return [error('upstream.reachable', subject, result.problem.message, result.problem.fix)];
  const reachable = ok('upstream.reachable', subject, `${new URL(url).host} answers`);
  const document = result.answer.json as { issuer?: unknown } | undefined;
  if (result.answer.status !== 200 || typeof document !== 'object' || document === null) {
    return [
      reachable,
      error(
        'upstream.discovery',
        subject,
        `${url} answers HTTP ${result.answer.status}${result.answer.status === 200 ? ' without a JSON document' : ''}`,
        "Set issuer to the upstream's issuer identifier exactly (its discovery document lives below it).",
      ),
    ];
  }
  if (document.issuer !== upstream.issuer) {
    return [
      reachable,
      error(
        'upstream.discovery',
        subject,
        `discovery names the issuer ${JSON.stringify(document.issuer)}, configured is ${upstream.issuer}: ${difference(upstream.issuer, document.issuer)}; sign-ins through it fail`,
        `Set the upstream's issuer to ${typeof document.issuer === 'string' ? document.issuer : 'the value its discovery document names'}, byte for byte.`,
      ),
    ];
  }
  return [reachable, ok('upstream.discovery', subject, `discovery served, issuer ${upstream.issuer}`)];
}

async function checkOAuth2(upstream: OAuth2UpstreamConfig, ctx: CheckContext): Promise<Finding[]> {
  const subject = `upstream ${upstream.id}`;
  const resolved = resolveOAuth2Config(upstream);
  const urls = [resolved.authorizationURL, resolved.tokenURL, resolved.userInfoURL];
  // Any HTTP answer proves DNS, TCP and TLS; a GET without parameters is refused by design.
  const failures: Finding[] = [];
  for (const url of [...new Set(urls)]) {
    const result = await probe(ctx, url);
    if (!result.ok) failures.push(error('upstream.reachable', subject, result.problem.message, result.problem.fix));
  }
  return failures.length > 0
    ? failures
    : [ok('upstream.reachable', subject, `${[...new Set(urls.map((u) => new URL(u).host))].join(', ')} answer`)];
}
