/**
 * The egress proxy: where a network lets the bridge reach DingTalk, an IDaaS or a client's
 * jwks_uri only through an HTTP proxy (often the one address on the app's 服务器出口IP list), every
 * outgoing call follows `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` as the Go tools next to it do
 * (Dex, Grafana, Argo CD, kubectl: golang.org/x/net/http/httpproxy,
 * https://pkg.go.dev/golang.org/x/net/http/httpproxy#FromEnvironment), so one set of variables
 * serves the whole cluster:
 *
 * - an `https:` URL goes through `HTTPS_PROXY`, an `http:` URL through `HTTP_PROXY`; each name
 *   may be written in lower case, and a value with no scheme (`proxy.corp:3128`) is `http://`;
 * - `NO_PROXY` is a comma-separated list: `*` (nothing goes through the proxy), a domain
 *   (`corp.example` is that host and every host under it; `.corp.example` or `*.corp.example`
 *   only the hosts under it), an IP address or a CIDR range (matching URLs that name an address),
 *   each optionally with `:port`;
 * - `localhost` and loopback addresses never go through the proxy.
 *
 * An HTTPS call is tunnelled (CONNECT), so the proxy sees only the host name and TLS still ends at
 * the upstream; a plain-http call is sent to the proxy in absolute form. Credentials in the proxy
 * URL (`http://user:pass@proxy:3128`) are sent as Proxy-Authorization: Basic and never logged.
 * The transport is undici's ProxyAgent (https://undici.nodejs.org/#/docs/api/ProxyAgent), loaded
 * only when a proxy is configured.
 *
 * docs/upstreams.md, "Egress proxy", is the operator's page for this.
 */
import { BlockList, isIP, isIPv4 } from 'node:net';
import { domainToASCII } from 'node:url';
import type * as UndiciModule from 'undici';
import type { Dispatcher, ProxyAgent } from 'undici';
import { capBodies, MAX_UPSTREAM_BODY_BYTES } from './capped-fetch.js';
import { causeChain } from './error-causes.js';

/** A proxy value, or the combination of them, the bridge cannot use: start-up refuses it. */
export class EgressProxyError extends Error {
  override name = 'EgressProxyError';
}

/**
 * The proxy did not carry the call: it asked for credentials (407), refused the host (403 and the
 * like), or could not reach it (a 5xx to a CONNECT: the host does not resolve or answer from there).
 */
export class EgressProxyRefusedError extends Error {
  override name = 'EgressProxyRefusedError';
  constructor(
    readonly proxy: string,
    readonly host: string,
    readonly status: number,
  ) {
    super(
      status === 407
        ? `the egress proxy ${proxy} asked for credentials (407): put them in the proxy URL (http://user:password@host:port)`
        : status >= 500
          ? `the egress proxy ${proxy} could not reach ${host} (${status})`
          : `the egress proxy ${proxy} refused the connection to ${host} (${status})`,
    );
  }
}

interface NoProxyEntry {
  /** Lower-case host without brackets; `.suffix` for subdomains only. */
  host?: string;
  /** Also the bare domain of a `.suffix` host (an entry written without the leading dot). */
  alsoBare?: boolean;
  /** An address or range, for URLs naming an IP address. */
  range?: BlockList;
  /** 0 for any port. */
  port: number;
}

/** One proxy, as read from its variable. */
export interface ProxyServer {
  /** `http://host:port` or `https://host:port`, without credentials. */
  readonly origin: string;
  /** As the log and the doctor show it: `http://***@host:port` when it carries credentials. */
  readonly shown: string;
  /** The Proxy-Authorization value (`Basic …`) from the URL's credentials. */
  readonly authorization?: string;
}

export interface EgressProxy {
  /** The proxy a call to `url` goes through, or undefined to connect directly. */
  proxyFor(url: URL): ProxyServer | undefined;
  /** What the log may show: proxies without credentials, and NO_PROXY as given. */
  readonly described: { https?: string; http?: string; noProxy?: string };
  /** The same in one line, for `check` and the doctor. */
  readonly summary: string;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

/**
 * The egress proxy `env` sets, or undefined when it sets none. Throws EgressProxyError naming the
 * variable for a value that is not a usable proxy URL, or for two spellings of one variable
 * (`HTTPS_PROXY` and `https_proxy`) that disagree: which one wins differs between tools.
 */
export function egressProxyFrom(env: NodeJS.ProcessEnv): EgressProxy | undefined {
  const https = proxyUrl(env, 'HTTPS_PROXY');
  const http = proxyUrl(env, 'HTTP_PROXY');
  if (!https && !http) return undefined;
  const noProxyText = variable(env, 'NO_PROXY');
  const everything = noProxyText?.split(',').some((e) => e.trim() === '*') ?? false;
  const entries = everything || !noProxyText ? [] : noProxyEntries(noProxyText);
  const described = {
    ...(https ? { https: https.shown } : {}),
    ...(http ? { http: http.shown } : {}),
    ...(noProxyText ? { noProxy: noProxyText } : {}),
  };
  const summary = [
    described.https ? `https:// calls through ${described.https}` : 'https:// calls direct',
    described.http ? `http:// calls through ${described.http}` : 'http:// calls direct',
    ...(everything ? ['NO_PROXY=* sends every call direct'] : noProxyText ? [`except NO_PROXY (${noProxyText})`] : []),
  ].join('; ');
  return {
    proxyFor(url) {
      const proxy = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
      if (!proxy || everything) return undefined;
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
      if (isLoopback(host)) return undefined;
      const port = Number(url.port) || DEFAULT_PORTS[url.protocol]!;
      return entries.some((entry) => matches(entry, host, port)) ? undefined : proxy;
    },
    described,
    summary,
  };
}

let fromProcess: { value: EgressProxy | undefined } | undefined;

/** This process's egress proxy, read from its environment once. */
export function processEgressProxy(): EgressProxy | undefined {
  fromProcess ??= { value: egressProxyFrom(process.env) };
  return fromProcess.value;
}

/** The value of `name` in either spelling; refuses two spellings that disagree. */
function variable(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const upper = env[name]?.trim() || undefined;
  const lower = env[name.toLowerCase()]?.trim() || undefined;
  if (upper && lower && upper !== lower) {
    throw new EgressProxyError(`${name} and ${name.toLowerCase()} are both set, to different values: set only one of them`);
  }
  return upper ?? lower;
}

function proxyUrl(env: NodeJS.ProcessEnv, name: string): ProxyServer | undefined {
  const text = variable(env, name);
  if (!text) return undefined;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  const url = URL.parse(withScheme);
  // The value itself is never repeated: it may hold the proxy's password.
  if (!url || !url.hostname) {
    throw new EgressProxyError(`${name} is not a proxy URL: expected http://host:port (or https://, optionally with user:password@)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new EgressProxyError(`${name}: ${url.protocol}// proxies are not supported; use an http:// or https:// proxy`);
  }
  if (!url.username && !url.password) return { origin: url.origin, shown: url.origin };
  let credentials: string;
  try {
    credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  } catch {
    throw new EgressProxyError(`${name}: the user or password in the proxy URL is not valid percent-encoding (write % as %25)`);
  }
  return {
    origin: url.origin,
    shown: `${url.protocol}//***@${url.host}`,
    authorization: `Basic ${Buffer.from(credentials).toString('base64')}`,
  };
}

function noProxyEntries(text: string): NoProxyEntry[] {
  const entries: NoProxyEntry[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim().toLowerCase();
    if (!item) continue;
    // A range or an address first: `10.0.0.0/8`, `::1`, `[fd00::1]:8443`, `10.1.2.3:8080`.
    const slash = item.indexOf('/');
    if (slash > 0) {
      const bits = item.slice(slash + 1);
      const range = /^\d{1,3}$/.test(bits) ? rangeOf(item.slice(0, slash), Number(bits)) : undefined;
      if (range) entries.push({ range, port: 0 });
      continue; // an unreadable entry is ignored, as Go's httpproxy does
    }
    const { host, port } = splitPort(item);
    if (isIP(host)) {
      entries.push({ range: rangeOf(host, isIPv4(host) ? 32 : 128)!, port });
      continue;
    }
    // URLs hold international names in punycode (`xn--bcher-kva.example`): so must the entry.
    const leadingDot = host.startsWith('*.') || host.startsWith('.');
    const ascii = domainToASCII(host.replace(/^\*?\./, ''));
    if (!ascii) continue;
    const name = leadingDot ? `.${ascii}` : ascii;
    entries.push(name.startsWith('.') ? { host: name, port } : { host: `.${name}`, alsoBare: true, port });
  }
  return entries;
}

function splitPort(item: string): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(item);
  if (bracketed) return { host: bracketed[1]!, port: Number(bracketed[2] ?? 0) };
  if (isIP(item)) return { host: item, port: 0 }; // a bare IPv6 address: its colons are no port
  const withPort = /^(.*):(\d+)$/.exec(item);
  return withPort ? { host: withPort[1]!, port: Number(withPort[2]) } : { host: item, port: 0 };
}

function rangeOf(address: string, bits: number): BlockList | undefined {
  const family = isIP(address);
  if (!family || !Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) return undefined;
  const list = new BlockList();
  list.addSubnet(address, bits, family === 4 ? 'ipv4' : 'ipv6');
  return list;
}

function matches(entry: NoProxyEntry, host: string, port: number): boolean {
  if (entry.port && entry.port !== port) return false;
  if (entry.range) {
    const family = isIP(host);
    return family !== 0 && entry.range.check(host, family === 4 ? 'ipv4' : 'ipv6');
  }
  const suffix = entry.host!;
  return host.endsWith(suffix) || (entry.alsoBare === true && host === suffix.slice(1));
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const family = isIP(host);
  if (family === 4) return LOOPBACK.check(host, 'ipv4');
  // An IPv4-mapped address (`::ffff:7f00:1`, as URLs write it) is checked by BlockList as the IPv4 one.
  return family === 6 && LOOPBACK.check(host, 'ipv6');
}

type Undici = typeof UndiciModule;
let undici: Promise<Undici> | undefined;
const agents = new Map<string, ProxyAgent>();

/** Only these are redirects fetch follows (https://fetch.spec.whatwg.org/#redirect-status). */
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** https://fetch.spec.whatwg.org/#http-redirect-fetch, step 5. */
const MAX_REDIRECTS = 20;
/** As src/upstreams/http-fetch.ts: a call without a signal of its own still ends. */
const DEFAULT_TIMEOUT_MS = 60_000;

async function agentFor(proxy: ProxyServer): Promise<{ lib: Undici; agent: Dispatcher }> {
  // undici registers its global dispatcher when first loaded, unless one is there: touching the
  // global fetch first loads Node's own copy, so the global fetch keeps Node's dispatcher.
  void globalThis.fetch;
  const lib = await (undici ??= import('undici'));
  const key = `${proxy.origin} ${proxy.authorization ?? ''}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = new lib.ProxyAgent({
      uri: proxy.origin,
      ...(proxy.authorization ? { token: proxy.authorization } : {}),
      // A plain-http target is forwarded in absolute form through an http:// proxy, as curl and
      // Go do: many proxies allow CONNECT only to port 443. HTTPS targets are always tunnelled.
      proxyTunnel: false,
    });
    agents.set(key, agent);
  }
  return { lib, agent };
}

/**
 * `direct` for what goes straight out, undici's fetch through the proxy for the rest, with the
 * same body cap as the bridge's own client (src/upstreams/capped-fetch.ts), its User-Agent, no
 * compression asked for, and a 60 s deadline for a call without a signal. A proxy that refuses (a
 * failed CONNECT, or a 407 to a forwarded request) rejects as fetch does on a network failure, a
 * TypeError, caused by an EgressProxyRefusedError that says what to change.
 *
 * Redirects: with a proxy set, a call that asks fetch to follow them (`redirect: 'follow'`, the
 * engine's GET of a jwks_uri) is followed here, one hop at a time, so each hop goes direct or
 * through the proxy by its own URL, as Go's client does; a call without `redirect` is not followed
 * on either path, as with src/upstreams/http-fetch.ts.
 */
export function viaEgressProxy(
  direct: typeof fetch,
  egress: () => EgressProxy | undefined,
  maxBytes = MAX_UPSTREAM_BODY_BYTES,
): typeof fetch {
  const proxied = capBodies(async (input, init) => {
    const request = input instanceof Request ? input : undefined;
    const url = new URL(targetOf(input));
    const proxy = egress()!.proxyFor(url)!;
    const { lib, agent } = await agentFor(proxy);
    const headers = new Headers(init?.headers ?? request?.headers);
    if (!headers.has('user-agent')) headers.set('user-agent', 'oidc-bridge');
    if (!headers.has('accept-encoding')) headers.set('accept-encoding', 'identity');
    const options = {
      ...requestInitOf(request),
      ...init,
      headers,
      redirect: 'manual',
      signal: init?.signal ?? request?.signal ?? AbortSignal.timeout(DEFAULT_TIMEOUT_MS),
      dispatcher: agent,
    } as Parameters<Undici['fetch']>[1];
    const outcome = await lib.fetch(url, options).then(
      (answer) => ({ answer }),
      (err: unknown) => ({ err }),
    );
    if ('err' in outcome) {
      const status = proxyStatusOf(outcome.err);
      throw status ? new TypeError('fetch failed', { cause: new EgressProxyRefusedError(proxy.shown, url.host, status) }) : outcome.err;
    }
    const response = outcome.answer;
    if (response.body) return response; // capBodies makes it one of ours
    // A null body passes capBodies as it is: answer with this process's Response class all the same.
    const empty = new Response(null, { status: response.status, statusText: response.statusText, headers: response.headers });
    Object.defineProperty(empty, 'url', { value: response.url });
    Object.defineProperty(empty, 'redirected', { value: false });
    return empty;
  }, maxBytes);

  const once: typeof fetch = (input, init) => {
    const proxy = egress();
    const url = proxy ? URL.parse(targetOf(input)) : null;
    return url && proxy!.proxyFor(url) ? proxied(input, init) : direct(input, init);
  };

  // async: a bad proxy variable rejects the call, as a network failure would, rather than throwing.
  return async (input, init) => {
    const mode = init?.redirect ?? (input instanceof Request ? input.redirect : undefined);
    if (!egress() || mode !== 'follow' || input instanceof Request) return once(input, init);
    return followRedirects(once, targetOf(input), init ?? {});
  };
}

/**
 * fetch's redirect steps (https://fetch.spec.whatwg.org/#http-redirect-fetch) over `once`, which
 * routes each hop: a 303, or a 301/302 answering a POST, becomes a GET without a body; a body that
 * cannot be sent again ends the chain with the redirect itself.
 */
async function followRedirects(once: typeof fetch, first: string, init: RequestInit): Promise<Response> {
  let url = first;
  let hop: RequestInit = { ...init, redirect: 'manual' };
  for (let hops = 0; ; hops += 1) {
    const response = await once(url, hop);
    const location = REDIRECT_STATUSES.has(response.status) ? response.headers.get('location') : null;
    if (location === null) return hops ? redirected(response, url) : response;
    const next = URL.parse(location, url);
    if (!next || (next.protocol !== 'http:' && next.protocol !== 'https:'))
      throw new TypeError('fetch failed', { cause: new Error('bad redirect location') });
    if (hops + 1 > MAX_REDIRECTS) throw new TypeError('fetch failed', { cause: new Error('redirect count exceeded') });
    const method = (hop.method ?? 'GET').toUpperCase();
    if (response.status === 303 ? method !== 'HEAD' : (response.status === 301 || response.status === 302) && method === 'POST') {
      const headers = new Headers(hop.headers);
      for (const name of ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'])
        headers.delete(name);
      hop = { ...hop, method: 'GET', body: null, headers };
    } else if (hop.body !== undefined && hop.body !== null && typeof hop.body !== 'string' && !(hop.body instanceof URLSearchParams)) {
      return response; // a stream or other body read once: fetch would fail here; hand back the redirect
    }
    await response.body?.cancel().catch(() => undefined);
    url = next.href;
  }
}

/** The last hop's answer as fetch gives it after redirects: its own url, `redirected` set. */
function redirected(response: Response, url: string): Response {
  // A new Response: the hop's own may have `url` and `redirected` fixed already (capBodies, http-fetch.ts).
  const followed = new Response(response.body, { status: response.status, statusText: response.statusText, headers: response.headers });
  Object.defineProperty(followed, 'url', { value: url });
  Object.defineProperty(followed, 'redirected', { value: true });
  return followed;
}

/**
 * The status of a proxy's refusal along undici's cause chain: a failed CONNECT is
 * `Proxy response (403) !== 200 when HTTP Tunneling`, a 407 to a forwarded request
 * `Proxy Authentication Required (407)` (undici 7, lib/dispatcher/proxy-agent.js).
 */
function proxyStatusOf(err: unknown): number | undefined {
  for (const e of causeChain(err)) {
    const found = /^Proxy response \((\d{3})\)|^Proxy Authentication Required \((407)\)/.exec(e.message);
    if (found) return Number(found[1] ?? found[2]);
  }
  return undefined;
}

function targetOf(input: Parameters<typeof fetch>[0]): string {
  return input instanceof Request ? input.url : input instanceof URL ? input.href : input;
}

/** A Request's parts as init for undici's fetch (its own Request class does not take ours). */
function requestInitOf(request: Request | undefined): RequestInit {
  if (!request) return {};
  return {
    method: request.method,
    headers: request.headers,
    redirect: request.redirect,
    signal: request.signal,
    ...(request.body ? { body: request.body, duplex: 'half' } : {}),
  };
}
