/**
 * Rate limits in front of oidc-provider (docs/security.md, "Rate limits"; config `rateLimits`).
 * The core, `createRateLimits`, is a plain function over node's request and response that answers
 * 429 itself and says whether it did, so it can run before the protocol engine with or without
 * express: the dispatcher runs it first among the steps before the engine (src/server/dispatch.ts).
 *
 * The rules are one table: a route, what a request is counted by, and how a refusal is answered.
 * Counters live in the store (src/store/rate-limits.ts), so every replica shares them. Keys are a
 * claimed client id with the client address, or the address alone; never a username, email or
 * account, so a limit can never be used to lock a named person out.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config, RateLimitRuleName } from '../config/schema.js';
import { issuerPath } from '../oidc/configuration.js';
import { negotiateLocale, pageHeaders, plainPages, type Locale, type ProtocolPages } from '../pages/index.js';
import type { RateLimiter, Store } from '../store/types.js';

/** What the limits count (implemented in src/server/metrics.ts). Labels are rule names only. */
export interface RateLimitMetrics {
  /** A request refused with 429. */
  rateLimited(rule: RateLimitRuleName): void;
  /** A request let through because the store could not count it (fail open). */
  rateLimitUnavailable(rule: RateLimitRuleName): void;
}

/** A request as the key functions see it: the trusted client address, and the body where one was read. */
interface Counted {
  req: IncomingMessage;
  address: string;
  /** The client id the request claims (Basic auth, else the form body); '' when it names none. */
  claimedClientId(): Promise<string>;
}

interface Rule {
  name: RateLimitRuleName;
  methods: readonly string[];
  /** The route below the issuer's path. */
  path: string | RegExp;
  /** What one budget belongs to. */
  key: (request: Counted) => Promise<string>;
  /** `oauth`: RFC 6749 §5.2 JSON error; `page`: the error page, for routes a browser follows. */
  answer: 'oauth' | 'page';
}

/**
 * A claimed client id is not authenticated yet (that is oidc-provider's job, after us), so it is
 * never a budget of its own: anyone can send a victim's client_id. Keyed with the address, an
 * attacker spends only its own address's budget for that client, and the real client, calling from
 * its own address, keeps its budget. For a public client (kubectl) the address is one person's
 * machine or an office egress (see allowCidrs).
 */
const clientAndAddress = async (r: Counted) => `${await r.claimedClientId()}\n${r.address}`;
/** Browser routes: nothing but the address is known, and nothing else may be used (no usernames). */
const address = async (r: Counted) => r.address;

const POST = ['POST'] as const;
const GET_POST = ['GET', 'HEAD', 'POST'] as const;

/** Routes and paths as oidc-provider 9 mounts them by default (its `routes` option, unchanged in src/oidc/configuration.ts). */
export const RATE_LIMIT_RULES: readonly Rule[] = [
  { name: 'token', methods: POST, path: '/token', key: clientAndAddress, answer: 'oauth' },
  { name: 'introspection', methods: POST, path: '/token/introspection', key: clientAndAddress, answer: 'oauth' },
  { name: 'revocation', methods: POST, path: '/token/revocation', key: clientAndAddress, answer: 'oauth' },
  { name: 'deviceAuthorization', methods: POST, path: '/device/auth', key: clientAndAddress, answer: 'oauth' },
  { name: 'authorization', methods: GET_POST, path: '/auth', key: address, answer: 'page' },
  { name: 'deviceVerification', methods: POST, path: '/device', key: address, answer: 'page' },
  { name: 'upstreamCallback', methods: GET_POST, path: /^\/upstream\/[^/]+\/callback$/, key: address, answer: 'page' },
];

export interface RateLimitDeps {
  config: Pick<Config, 'issuer' | 'rateLimits' | 'ui'>;
  store: Store;
  log: Logger;
  metrics?: RateLimitMetrics;
  pages?: ProtocolPages;
  /**
   * The client address the server trusts: express's `req.ip` under `trust proxy` (config
   * `trustProxy`), never a raw X-Forwarded-For. A caller without express computes it the same way.
   */
  clientAddress(req: IncomingMessage): string | undefined;
}

/** Answers 429 itself and resolves true, or resolves false: the request goes on. */
export type RateLimitCheck = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/** oidc-provider's own cap on a request body (lib/shared/selective_body.js). */
const BODY_LIMIT = 56 * 1024;

export function createRateLimits(deps: RateLimitDeps): RateLimitCheck {
  const { rateLimits } = deps.config;
  if (!rateLimits.enabled) return async () => false;
  const prefix = routedPath(issuerPath(deps.config.issuer));
  // No CIDRs (the default): no lookup per request (BlockList.check builds a SocketAddress each time).
  const allowed = rateLimits.allowCidrs.length ? allowList(rateLimits.allowCidrs) : undefined;
  const limiters = new Map<RateLimitRuleName, RateLimiter>(
    RATE_LIMIT_RULES.map((rule) => {
      const { points, duration } = rateLimits[rule.name];
      return [rule.name, deps.store.rateLimiter(rule.name, { points, durationSeconds: duration })];
    }),
  );
  const failOpen = failOpenReporter(deps);

  return async (req, res) => {
    const rule = ruleFor(req, prefix);
    if (!rule) return false;
    const address = normalizeAddress(deps.clientAddress(req) ?? req.socket.remoteAddress ?? '');
    if (allowed && isAllowed(allowed, address)) return false;
    const body = bodyReader(req);
    let key: string;
    try {
      key = await rule.key({ req, address: limitedAddress(address), claimedClientId: () => claimedClientId(req, body) });
    } catch {
      // The body could not be read (too large, or the client went away): oidc-provider would refuse it too.
      sendOAuth(res, 400, { error: 'invalid_request', error_description: 'the request body could not be read' });
      return true;
    }
    let decision;
    try {
      decision = await limiters.get(rule.name)!.consume(key);
    } catch (err) {
      failOpen.failed(rule.name, err);
      return false;
    }
    failOpen.recovered();
    if (decision.allowed) return false;
    deps.metrics?.rateLimited(rule.name);
    deps.log.info({ rule: rule.name, retryAfter: decision.retryAfterSeconds }, 'rate limit reached');
    answer(deps, rule, req, res, decision.retryAfterSeconds);
    return true;
  };
}

/**
 * The path of a request target as express and koa read it (https://github.com/pillarjs/parseurl:
 * the query and any `#…` cut off; an absolute-form target, `POST http://host/token`, which
 * RFC 9112 §3.2.2 has servers accept, reduced to its path).
 */
function targetPath(url: string): string {
  if (url.startsWith('/')) {
    const end = url.search(/[?#]/);
    return end < 0 ? url : url.slice(0, end);
  }
  return URL.canParse(url) ? new URL(url).pathname : url;
}

/**
 * A path as the routers behind compare it: oidc-provider's folds ASCII case and ignores one
 * trailing slash (`fold` and `match` in lib/helpers/router.js), express's routes and mount are
 * case-insensitive and not strict. `/TOKEN` and `/token/` reach the token endpoint, so they must
 * spend its budget.
 */
function routedPath(path: string): string {
  const folded = path.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
  return folded.length > 1 && folded.endsWith('/') ? folded.slice(0, -1) : folded;
}

function ruleFor(req: IncomingMessage, prefix: string): Rule | undefined {
  const path = routedPath(targetPath(req.url ?? '/'));
  if (prefix && !path.startsWith(`${prefix}/`)) return undefined;
  const route = path.slice(prefix.length);
  const method = req.method ?? 'GET';
  return RATE_LIMIT_RULES.find(
    (rule) => rule.methods.includes(method) && (typeof rule.path === 'string' ? rule.path === route : rule.path.test(route)),
  );
}

function allowList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [network, bits] = cidr.split('/') as [string, string];
    list.addSubnet(network, Number(bits), isIPv4(network) ? 'ipv4' : 'ipv6');
  }
  return list;
}

function isAllowed(list: BlockList, address: string): boolean {
  if (isIPv4(address)) return list.check(address, 'ipv4');
  return isIPv6(address) && list.check(address, 'ipv6');
}

/** An IPv4 client seen through a dual-stack socket (`::ffff:203.0.113.7`) is that IPv4 address. */
function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

/**
 * The part of an address one budget belongs to: an IPv4 address, or an IPv6 /64 (one subscriber's
 * network: a host picks any address in it, so per-address budgets would not hold).
 */
export function limitedAddress(address: string): string {
  if (!isIPv6(address)) return address;
  const [head = '', tail] = address.split('%')[0]!.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  if (right.some((part) => part.includes('.')) || left.some((part) => part.includes('.'))) return address;
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}

/** Reads the body once, on demand; oidc-provider then parses the same bytes from `req.body`. */
function bodyReader(req: IncomingMessage): () => Promise<Buffer | undefined> {
  let read: Promise<Buffer | undefined> | undefined;
  return () => (read ??= readBody(req));
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) return undefined;
  const length = Number(req.headers['content-length'] ?? Number.NaN);
  // Too large by its own account: left unread for oidc-provider to refuse.
  if (length > BODY_LIMIT) return undefined;
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    received += (chunk as Buffer).length;
    if (received > BODY_LIMIT) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  const body = Buffer.concat(chunks, received);
  // oidc-provider reads an already consumed body from req.body (lib/shared/selective_body.js) and
  // parses it exactly as it would have parsed the stream.
  (req as IncomingMessage & { body?: Buffer }).body = body;
  return body;
}

/** RFC 6749 §2.3.1: HTTP Basic with the form-encoded client id, else the `client_id` parameter. */
async function claimedClientId(req: IncomingMessage, body: () => Promise<Buffer | undefined>): Promise<string> {
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '');
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const id = decoded.slice(0, Math.max(decoded.indexOf(':'), 0));
    try {
      return decodeURIComponent(id.replace(/\+/g, ' '));
    } catch {
      return id;
    }
  }
  const raw = await body();
  return raw ? (new URLSearchParams(raw.toString('utf8')).get('client_id') ?? '') : '';
}

/**
 * Fail open: while the store cannot count, every request passes (the routes behind answer 503 by
 * themselves when they need the store), each such request is counted, and the outage is logged
 * once, until a count succeeds again.
 */
function failOpenReporter(deps: RateLimitDeps) {
  let reported = false;
  return {
    failed(rule: RateLimitRuleName, err: unknown) {
      deps.metrics?.rateLimitUnavailable(rule);
      if (reported) return;
      reported = true;
      deps.log.warn({ err, rule }, 'rate limits cannot be counted: letting requests through until the store answers');
    },
    recovered() {
      if (!reported) return;
      reported = false;
      deps.log.info('rate limits counted again');
    },
  };
}

function answer(deps: RateLimitDeps, rule: Rule, req: IncomingMessage, res: ServerResponse, retryAfterSeconds: number): void {
  res.setHeader('Retry-After', String(retryAfterSeconds));
  if (rule.answer === 'oauth') {
    sendOAuth(res, 429, {
      error: 'temporarily_unavailable',
      error_description: `too many requests; retry after ${retryAfterSeconds} seconds`,
    });
    return;
  }
  const locale = localeOf(req, deps.config.ui.defaultLocale);
  const input = { error: 'temporarily_unavailable', locale, status: 429, retryAfterSeconds };
  let html: string;
  try {
    html = (deps.pages ?? plainPages).error(input);
  } catch (err) {
    deps.log.error({ err }, 'page rendering failed; serving the plain page');
    html = plainPages.error(input);
  }
  res.statusCode = 429;
  for (const [name, value] of Object.entries(pageHeaders())) res.setHeader(name, value);
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(req.method === 'HEAD' ? undefined : html);
}

function sendOAuth(res: ServerResponse, status: number, body: { error: string; error_description: string }): void {
  res.statusCode = status;
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

function localeOf(req: IncomingMessage, defaultLocale: Locale): Locale {
  let uiLocales: string | null = null;
  try {
    uiLocales = new URL(req.url ?? '/', 'http://localhost').searchParams.get('ui_locales');
  } catch {
    // An unparsable URL has no ui_locales.
  }
  return negotiateLocale({ uiLocales: uiLocales ?? undefined, acceptLanguage: req.headers['accept-language'], defaultLocale });
}
