/**
 * One HTTP GET as a check makes it: bounded by the timeout (body included), never following a
 * redirect (a redirect is itself a finding), and a failure turned into what went wrong at which
 * stage (DNS, TCP, TLS, timeout) with the fix for it.
 */
import { EgressProxyRefusedError, processEgressProxy } from '../../upstreams/egress-proxy.js';
import { causeChain } from '../../upstreams/error-causes.js';
import type { CheckContext } from './findings.js';

export interface Answer {
  status: number;
  location?: string;
  /** Parsed JSON; undefined when the body is not JSON. */
  json: unknown;
}

export interface NetworkProblem {
  stage: 'dns' | 'tcp' | 'tls' | 'timeout' | 'network' | 'proxy';
  message: string;
  fix: string;
}

export type ProbeResult = { ok: true; answer: Answer } | { ok: false; problem: NetworkProblem };

export async function probe(ctx: CheckContext, url: string): Promise<ProbeResult> {
  try {
    const response = await ctx.fetch(url, {
      headers: { accept: 'application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(ctx.timeoutMs),
    });
    const text = await response.text();
    const location = response.headers.get('location');
    return { ok: true, answer: { status: response.status, ...(location ? { location } : {}), json: parseJson(text) } };
  } catch (err) {
    return { ok: false, problem: explainNetworkError(url, err, ctx.timeoutMs) };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The first `code` along the cause chain (fetch and src/upstreams/http-fetch.ts put the socket's error in `cause`). */
export function errorCodeOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if ((e as { name?: unknown }).name === 'TimeoutError') return 'TimeoutError';
  }
  return undefined;
}

const TLS_CODES =
  /^(CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(VERIFY|GET)_|ERR_TLS_|ERR_SSL_|EPROTO|HOSTNAME_MISMATCH)/;

/**
 * The advice for a certificate this process does not trust. Node trusts its bundled CAs plus
 * NODE_EXTRA_CA_CERTS (https://nodejs.org/api/cli.html#node_extra_ca_certsfile); turning
 * verification off would let anyone on the path answer for the server.
 */
export const PRIVATE_CA_FIX =
  'If the certificate comes from a private CA, give the process that CA: mount it (e.g. from a ConfigMap) and set ' +
  'NODE_EXTRA_CA_CERTS=/path/to/ca.crt for the bridge and for this check; relying parties need it too ' +
  '(kube-apiserver --oidc-ca-file, KubeSphere: the CA in its trust store). Never turn certificate verification off. ' +
  'Otherwise renew the certificate, or make it name this exact host.';

export function explainNetworkError(url: string, err: unknown, timeoutMs: number): NetworkProblem {
  const host = safeHost(url);
  const proxy = egressProxyOf(url);
  const refused = refusalOf(err);
  if (refused) {
    return {
      stage: 'proxy',
      message: `${url}: ${refused.message}`,
      fix:
        refused.status === 407
          ? 'Put the proxy credentials in the proxy URL (HTTPS_PROXY=http://user:password@host:port), or ask its owners for an exemption.'
          : refused.status >= 500
            ? `Check the host name ${host} in the configuration: the proxy resolves and connects to it, so it must be reachable from the proxy; list ${host} in NO_PROXY if only this host reaches it.`
            : `Ask the proxy's owners to allow ${host}, or list ${host} in NO_PROXY if this host reaches it directly.`,
    };
  }
  const problem = directNetworkError(url, host, err, timeoutMs);
  if (!proxy) return problem;
  // Through a proxy, DNS and the connection are the proxy's: name it, or the fix points at the wrong hop.
  return {
    ...problem,
    message: `${problem.message} (through the egress proxy ${proxy})`,
    fix: `${problem.fix} The call went through the egress proxy ${proxy}: check that it is up and reaches ${host}, or list ${host} in NO_PROXY if this host reaches it directly.`,
  };
}

/** The egress proxy a call to `url` goes through (credentials hidden), if any. */
function egressProxyOf(url: string): string | undefined {
  try {
    const target = URL.parse(url);
    const proxy = target ? processEgressProxy()?.proxyFor(target) : undefined;
    return proxy?.shown;
  } catch {
    return undefined; // a bad variable is its own finding (egress.proxy)
  }
}

function refusalOf(err: unknown): EgressProxyRefusedError | undefined {
  return [...causeChain(err)].find((e): e is EgressProxyRefusedError => e instanceof EgressProxyRefusedError);
}

function directNetworkError(url: string, host: string, err: unknown, timeoutMs: number): NetworkProblem {
  const code = errorCodeOf(err);
  if (code === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') {
    return {
      stage: 'timeout',
      message: `${url}: no answer within ${timeoutMs} ms`,
      fix: `Check that ${host} is reachable from here (firewall, egress NetworkPolicy, proxy); raise --timeout only for a slow but working server.`,
    };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL') {
    return {
      stage: 'dns',
      message: `${url}: the name ${host} does not resolve (${code})`,
      fix: `Check the host name in the configuration, and that this host's DNS (in Kubernetes: CoreDNS, or a split-horizon zone) knows ${host}.`,
    };
  }
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ECONNRESET') {
    return {
      stage: 'tcp',
      message: `${url}: cannot connect to ${host} (${code})`,
      fix: `Check the port and that something listens there, and that no firewall or NetworkPolicy blocks this host's egress to ${host}.`,
    };
  }
  if (code && TLS_CODES.test(code)) {
    return {
      stage: 'tls',
      message: `${url}: TLS failed (${code}): ${tlsMeaning(code)}`,
      fix:
        code === 'EPROTO' || code.startsWith('ERR_SSL_')
          ? `Use the scheme the server speaks (http:// or https://) on that port. ${PRIVATE_CA_FIX}`
          : PRIVATE_CA_FIX,
    };
  }
  return {
    stage: 'network',
    message: `${url}: request failed (${code ?? innermostMessage(err)})`,
    fix: `Check that ${host} is reachable from here.`,
  };
}

/** The deepest cause's message, e.g. undici's "bad port" when an injected fetch refuses a port. */
function innermostMessage(err: unknown): string {
  let message = 'no details';
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    if (e instanceof Error && e.message) message = e.message;
  }
  return message;
}

function tlsMeaning(code: string): string {
  if (code === 'CERT_HAS_EXPIRED') return 'the server certificate has expired';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') return 'the certificate does not name this host';
  if (code === 'EPROTO' || code.startsWith('ERR_SSL_'))
    return 'the server does not speak TLS on this port, or speaks a version this client refuses';
  return 'the certificate is not signed by a CA this process trusts (self-signed or a private CA)';
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
