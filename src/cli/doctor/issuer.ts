/**
 * The issuer as relying parties see it: discovery at exactly `<issuer>/.well-known/openid-configuration`,
 * an `issuer` field equal to the configured string byte for byte (OpenID Connect Discovery 1.0 §4.3,
 * https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfigurationValidation), and a
 * JWKS that publishes the RS256 key this configuration's keys.dir signs with (kube-apiserver and
 * KubeSphere 3.x verify RS256 only, docs/reference/kubernetes.md).
 */
import { isLoopbackHost } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { error, ok, warning, type CheckContext, type Finding } from './findings.js';
import { probe } from './probe.js';

const SUBJECT = 'issuer';

export interface IssuerFindings {
  findings: Finding[];
  /** The published keys, when the JWKS could be read. */
  jwks?: { kid?: unknown; alg?: unknown; kty?: unknown; use?: unknown }[];
}

export async function checkIssuer(config: Config, ctx: CheckContext): Promise<IssuerFindings> {
  const findings = [schemeFinding(config.issuer)];
  const url = `${config.issuer}/.well-known/openid-configuration`;
  const result = await probe(ctx, url);
  if (!result.ok) {
    findings.push(error('issuer.discovery', SUBJECT, result.problem.message, result.problem.fix));
    return { findings };
  }
  const { answer } = result;
  if (answer.status >= 300 && answer.status < 400) {
    findings.push(
      error(
        'issuer.discovery',
        SUBJECT,
        `${url} answers ${answer.status} redirecting to ${answer.location ?? '(nowhere)'}`,
        'Relying parties fetch discovery at exactly the issuer they are given and compare it byte for byte: set issuer to the URL the bridge answers at ' +
          '(scheme, host, port and path), and configure every relying party with that same string.',
      ),
    );
    return { findings };
  }
  const document = answer.json as Record<string, unknown> | undefined;
  if (answer.status !== 200 || typeof document !== 'object' || document === null) {
    findings.push(
      error(
        'issuer.discovery',
        SUBJECT,
        `${url} answers HTTP ${answer.status}${answer.status === 200 ? ' without a JSON document' : ''}`,
        'The issuer (with its path) must reach the bridge unchanged: check the Ingress host and path (no rewrite that strips the path), ' +
          'and that the bridge runs with this issuer.',
      ),
    );
    return { findings };
  }
  findings.push(ok('issuer.discovery', SUBJECT, `discovery served at ${url}`));
  findings.push(matchFinding(config.issuer, document.issuer));
  const jwks = await checkJwks(ctx, document.jwks_uri);
  findings.push(jwks.finding);
  return jwks.keys ? { findings, jwks: jwks.keys } : { findings };
}

function schemeFinding(issuer: string): Finding {
  const url = new URL(issuer);
  if (url.protocol === 'https:' || isLoopbackHost(url.hostname))
    return ok('issuer.scheme', SUBJECT, `${issuer} is ${url.protocol.slice(0, -1)}`);
  return warning(
    'issuer.scheme',
    SUBJECT,
    `${issuer} is plain http: codes, tokens and cookies cross the network in clear text, kube-apiserver refuses a non-https issuer, and NODE_ENV=production refuses to start`,
    'Serve the bridge over https (TLS at the bridge or at the Ingress in front of it, with trustProxy) and set issuer to the https:// URL.',
  );
}

function matchFinding(configured: string, served: unknown): Finding {
  if (served === configured) return ok('issuer.match', SUBJECT, `discovery names the issuer exactly as configured (${configured})`);
  const shown = typeof served === 'string' ? served : JSON.stringify(served);
  return error(
    'issuer.match',
    SUBJECT,
    `discovery at ${configured} names the issuer ${shown}: ${difference(configured, served)}`,
    'Relying parties compare the issuer byte for byte with discovery and with every ID token (trailing slash, scheme, host, port, path). ' +
      'The server answering here runs with another issuer: run it with this configuration (the same ConfigMap), ' +
      'and give every relying party exactly the configured string.',
  );
}

/** How two issuer strings differ, in the terms an operator fixes them by. */
export function difference(configured: string, served: unknown): string {
  if (typeof served !== 'string') return 'the issuer field is missing';
  if (served === `${configured}/`) return 'it ends with a slash, the configured issuer does not';
  if (`${served}/` === configured) return 'the configured issuer ends with a slash, the served one does not';
  if (!URL.canParse(served)) return 'it is not a URL';
  const a = new URL(configured);
  const b = new URL(served);
  if (a.protocol !== b.protocol) return `the scheme differs (${a.protocol.slice(0, -1)} configured, ${b.protocol.slice(0, -1)} served)`;
  if (a.host !== b.host) return `the host differs (${a.host} configured, ${b.host} served)`;
  if (a.pathname !== b.pathname) return `the path differs (${a.pathname} configured, ${b.pathname} served)`;
  return 'the strings differ';
}

async function checkJwks(ctx: CheckContext, jwksUri: unknown): Promise<{ finding: Finding; keys?: IssuerFindings['jwks'] }> {
  if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri)) {
    return {
      finding: error('issuer.jwks', SUBJECT, 'discovery has no jwks_uri', 'Run the bridge itself at the issuer: it publishes jwks_uri.'),
    };
  }
  const result = await probe(ctx, jwksUri);
  if (!result.ok) return { finding: error('issuer.jwks', SUBJECT, result.problem.message, result.problem.fix) };
  const keys = (result.answer.json as { keys?: unknown } | undefined)?.keys;
  if (result.answer.status !== 200 || !Array.isArray(keys)) {
    return {
      finding: error(
        'issuer.jwks',
        SUBJECT,
        `${jwksUri} answers HTTP ${result.answer.status} without a JWK set`,
        'The JWKS path must reach the bridge as discovery does: check the Ingress paths.',
      ),
    };
  }
  return { finding: ok('issuer.jwks', SUBJECT, `${jwksUri} publishes ${keys.length} key(s)`), keys: keys as IssuerFindings['jwks'] };
}
