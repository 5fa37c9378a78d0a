/**
 * The config contract (config.example.yaml shows every key). One zod schema per area; each default
 * sits in `.default()` with a note on what it controls and when to change it, once: a whole area
 * left out is `.prefault({})`, which parses to the same defaults. Key names are fixed: later work
 * adds keys in the same style and never renames these.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { hashedSecretDigest, isHashedSecret } from './hashed-secret.js';

// ---------------------------------------------------------------------------------------------
// Shared value types

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_SECONDS = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 } as const;

/** A duration: seconds as a number, or a string such as `90s`, `15m`, `1h`, `30d`. Parsed to seconds. */
export const durationSchema = z
  .union([z.number().nonnegative(), z.string().regex(DURATION, 'expected a duration such as 30s, 15m, 1h or 7d')])
  .transform((value) => {
    if (typeof value === 'number') return value;
    const [, amount, unit] = DURATION.exec(value)!;
    return Math.round(Number(amount) * UNIT_SECONDS[unit as keyof typeof UNIT_SECONDS]);
  });

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });

/** A name shown to people: one string, or one per locale (`{ zh-CN: 钉钉, en: DingTalk }`). */
export const displayNameSchema = z.union([z.string().min(1), z.record(z.string(), z.string().min(1))]);
export type DisplayName = z.infer<typeof displayNameSchema>;

/** `host:port` as used for Sentinel and Cluster node lists. */
const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port');

// ---------------------------------------------------------------------------------------------
// Process-level areas

/** An address or host name to bind, without a port (`0.0.0.0:8080` would fail only when the server starts). */
function bindHost() {
  return z
    .string()
    .refine(
      (host) => isIP(host) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host),
      'expected an address such as 0.0.0.0 or 127.0.0.1, or a host name, without a port (the port is its own key)',
    );
}

export const listenSchema = z.strictObject({
  /** Interface to bind. 0.0.0.0 inside a container; 127.0.0.1 when a local proxy fronts it. */
  host: bindHost().default('0.0.0.0'),
  /** TCP port. 0 picks a free one (tests). */
  port: z.number().int().min(0).max(65535).default(8080),
});

/**
 * Which proxies may set X-Forwarded-For/-Proto. Default: trust nothing, so a client cannot spoof
 * its address or scheme. Behind one ingress: `{ hops: 1 }`; or list the proxies' networks.
 */
export const trustProxySchema = z.union([
  z.strictObject({ hops: z.number().int().min(0) }),
  z.strictObject({ cidrs: z.array(trustedProxy()).min(1) }),
]);

/** proxy-addr's names for address ranges (https://github.com/jshttp/proxy-addr#proxyaddrreq-trust). */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * One entry of `trustProxy.cidrs` as express's `trust proxy` reads it (proxy-addr's `compile`, same
 * page): an address, an address with a prefix length (`10.0.0.0/8`, `fd00::/8`) or an IPv4 netmask
 * (`172.16.0.0/255.240.0.0`), or one of its names. Checked here, so a typo is a config error with
 * its path, not a crash when the server starts.
 */
function isTrustedProxyEntry(value: string): boolean {
  if (PROXY_RANGE_NAMES.has(value)) return true;
  const slash = value.indexOf('/');
  if (slash < 0) return isIP(value) !== 0;
  const family = isIP(value.slice(0, slash));
  const range = value.slice(slash + 1);
  if (family === 0) return false;
  // proxy-addr refuses a range of no bits (/0: every address), as it refuses a netmask of 0.0.0.0.
  if (/^\d{1,3}$/.test(range)) return Number(range) >= 1 && Number(range) <= (family === 4 ? 32 : 128);
  if (family !== 4 || isIP(range) !== 4) return false;
  // A netmask is ones then zeros.
  const mask = range.split('.').reduce((bits, octet) => bits * 256 + Number(octet), 0);
  const hostBits = 2 ** 32 - 1 - mask;
  return mask > 0 && (hostBits & (hostBits + 1)) === 0;
}

function trustedProxy() {
  return z
    .string()
    .min(1)
    .refine(isTrustedProxyEntry, 'expected an IP address, a CIDR range such as 10.0.0.0/8, or one of loopback, linklocal, uniquelocal');
}

/**
 * Keys that encrypt the upstream credentials the bridge caches in the store (the DingTalk app
 * token), 32+ characters each (e.g. `openssl rand -base64 32`). The first encrypts, all decrypt:
 * rotate by putting the new key first and removing the old one after a day (cached tokens live two
 * hours). Empty by default so existing deployments keep starting; `check` warns about a Redis store
 * without a key, because then anyone who can read Redis can use the app token.
 */
const encryptionKeys = z.array(z.string().min(32, 'store encryption keys need at least 32 characters')).default([]);

export const memoryStoreSchema = z.strictObject({
  /** One process only; nothing survives a restart. For development and the demo. */
  type: z.literal('memory'),
  encryptionKeys,
});

export const redisStoreSchema = z
  .strictObject({
    type: z.literal('redis'),
    /** `redis://[user:password@]host:port/db`; `rediss://` for TLS. Ignored host when `sentinel` or `cluster` is set, but its credentials and TLS still apply. */
    url: z
      .string()
      .regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL')
      .default('redis://127.0.0.1:6379/0'),
    /** Prefix of every key the bridge writes, so several deployments can share one Redis. */
    keyPrefix: z.string().default('oidc-bridge:'),
    /** Redis Sentinel: the master's name and the sentinels to ask. */
    sentinel: z
      .strictObject({
        name: z.string().min(1),
        nodes: z.array(hostPort).min(1),
        /** Password of the sentinels themselves, when they require one. */
        password: z.string().optional(),
      })
      .optional(),
    /** Redis Cluster: seed nodes. Every multi-key operation of the bridge stays in one hash slot. */
    cluster: z.strictObject({ nodes: z.array(hostPort).min(1) }).optional(),
    /** Milliseconds before a command fails while Redis is unreachable (routes then answer 503). */
    commandTimeoutMs: z.number().int().positive().default(2000),
    encryptionKeys,
  })
  .refine((s) => !(s.sentinel && s.cluster), { message: 'choose either sentinel or cluster, not both' });

export const storeSchema = z.discriminatedUnion('type', [memoryStoreSchema, redisStoreSchema]);
export type StoreConfig = z.infer<typeof storeSchema>;

export const keysSchema = z
  .strictObject({
    /** Directory of the private signing keys (JWKS). Mount a Secret here in Kubernetes. */
    dir: z.string().default('./keys'),
    /** How long a rotated key is published before replicas sign with it: longer than any RP caches JWKS. */
    rotationLead: durationSchema.default(3600),
    /**
     * How often each replica re-reads `dir`, so a key added by `keys rotate` (an updated Secret) is
     * published without a restart. Well under `rotationLead`. Default: a minute, or half of a
     * `rotationLead` shorter than two minutes.
     */
    reloadInterval: durationSchema.pipe(z.number().min(1, 'keys.reloadInterval must be at least 1s')).optional(),
  })
  .refine((keys) => keys.reloadInterval === undefined || keys.rotationLead === 0 || keys.reloadInterval < keys.rotationLead, {
    path: ['reloadInterval'],
    message:
      'keys.reloadInterval must be shorter than keys.rotationLead: a rotated key could otherwise activate before a replica has read and published it',
  })
  .transform(({ reloadInterval, ...keys }) => ({
    ...keys,
    reloadInterval: reloadInterval ?? Math.max(1, Math.min(60, Math.floor(keys.rotationLead / 2))),
  }));

const usernameCandidate = z.enum(['orgEmail', 'email', 'pinyin', 'jobNumber', 'userid', 'hash']);
export type UsernameCandidate = z.infer<typeof usernameCandidate>;

/** A `usernames.pins` key: the link domain (may hold colons), the attribute, the value. */
export const PIN_KEY = /^(.+?):(userid|unionId|subject|jobNumber|linkKey):(.+)$/i;
/**
 * Link-domain types that are never a whole link domain by default: a pin keyed on one alone (the
 * form documented before pins named the tenant) would match every tenant of that type.
 */
export const BARE_LINK_DOMAIN_TYPES: readonly string[] = ['dingtalk', 'dingtalk-any', 'oauth2', 'oidc'];

/** Built-in reserved usernames; `usernames.reserved` adds to them. */
export const DEFAULT_RESERVED_USERNAMES = ['admin', 'root', 'system', 'kubesphere'];

export const usernamesSchema = z.strictObject({
  /** Where a new person's username comes from, first usable wins. `hash` always yields one. */
  candidates: z.array(usernameCandidate).min(1).default(['orgEmail', 'pinyin', 'jobNumber', 'userid', 'hash']),
  /** Names nobody may get, in addition to admin, root, system and kubesphere. */
  reserved: z.array(z.string()).default([]),
  /**
   * Fixed usernames: `"<linkDomain>:<attribute>:<value>": username`, e.g.
   * `"dingtalk:ding0123456789:userid:manager4220": zhangwei`. The whole link domain, tenant included,
   * so a person of another organisation with the same userid never gets the name. A pin that
   * collides with another is a config error.
   */
  pins: z
    .record(
      z
        .string()
        .regex(PIN_KEY, 'expected <linkDomain>:<attribute>:<value>, attribute one of userid, unionId, subject, jobNumber, linkKey')
        .refine((key) => !BARE_LINK_DOMAIN_TYPES.includes(PIN_KEY.exec(key)?.[1] ?? ''), {
          error: (issue) =>
            `"${String(issue.input)}" names only the upstream type, which matches people of every tenant: key the pin on the ` +
            `upstream's full link domain, e.g. "${String(issue.input).replace(/^([^:]+):/, '$1:<tenant>:')}" ` +
            '(dingtalk:<corpId>, oauth2:<authorization host>, oidc:<issuer>, or the configured linkDomain)',
        }),
      z.string(),
    )
    .default({}),
});

export const ttlSchema = z.strictObject({
  /** Access tokens (userinfo, introspection). Short: they cannot be recalled from resource servers that cache. */
  accessToken: durationSchema.default(3600),
  /** ID tokens; kubectl/kube-apiserver use them as bearer tokens, so this is how long a kubeconfig works offline. */
  idToken: durationSchema.default(3600),
  /** Authorization codes: redeemed within seconds by a healthy RP. */
  authorizationCode: durationSchema.default(60),
  /** Refresh tokens; each winning refresh rechecks the upstream, so people who left lose access at once. */
  refreshToken: durationSchema.default(30 * 86400),
  /** Browser sessions at the bridge: how long "already signed in" lasts while unused (each use renews it). */
  session: durationSchema.default(14 * 86400),
  /**
   * How long after a person actually authenticated at an upstream a browser session is still
   * reused, however often it is used (`session` alone is renewed on every use, so a busy session
   * never ended). After it the person signs in again (`login_required` under `prompt=none`). For
   * oauth2 and oidc upstreams, which cannot be asked whether a person still belongs, it also ends
   * the refresh chain of a grant: a refresh after this long since its sign-in is `invalid_grant`.
   * 12 h: one sign-in per working day. Shorten it where a disabled person must lose access sooner
   * than that and the upstream cannot be asked.
   */
  sessionAbsolute: durationSchema.pipe(z.number().min(1, 'at least 1s')).default(12 * 3600),
  /** A login page (and its upstream leg) stays usable this long. */
  interaction: durationSchema.default(600),
  /** Grants (what a client may do for a person) live as long as their longest token. */
  grant: durationSchema.default(30 * 86400),
});

/**
 * Size caps of an authorization request. oidc-provider stores its parameters as an Interaction for
 * `ttl.interaction` before anyone has signed in, so without caps an anonymous request holds up to
 * 56 KB of store memory for minutes. Sizes are UTF-8 bytes of the decoded values; beyond a cap the
 * request gets `invalid_request`. `id_token_hint` is exempt: oidc-provider accepts only an ID
 * token this bridge signed, whose size `clients[].groups.max` bounds.
 */
export const requestLimitsSchema = z.strictObject({
  /**
   * Longest value of any one parameter. A relying party's `state`, `nonce` and `redirect_uri` are
   * tens to a few hundred bytes; 2048 leaves room for RPs that pack a return URL into `state`.
   * Raise it only for an RP that is refused with "… is longer than 2048 bytes".
   */
  maxParameterBytes: z.number().int().min(256).max(16384).default(2048),
  /**
   * All parameters of one request together (names and values). A typical request is under 1 KB;
   * this allows several parameters near their cap and keeps an Interaction far from 56 KB.
   */
  maxAuthorizationRequestBytes: z.number().int().min(1024).max(49152).default(10240),
});

/** `address/prefix`, IPv4 (`203.0.113.0/24`) or IPv6 (`2001:db8::/48`); the prefix fits the family. */
export const cidrSchema = z.string().refine((value) => {
  const slash = value.indexOf('/');
  if (slash < 0) return false;
  const family = isIP(value.slice(0, slash));
  const prefix = value.slice(slash + 1);
  return family !== 0 && /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}, 'expected a CIDR range such as 203.0.113.0/24 or 2001:db8::/48');

/** One rate limit: at most `points` requests per key in any window of `duration` (seconds or `1m`). */
const rateLimitSchema = (points: number, duration: number) =>
  z.strictObject({
    points: z.number().int().min(1).default(points),
    duration: durationSchema.pipe(z.number().int().min(1)).default(duration),
  });

/**
 * Rate limits in front of oidc-provider (src/server/rate-limit.ts; docs/security.md, "Rate
 * limits"), shared by every replica through the store (per process with the memory store). Each
 * rule counts requests per key within its window and answers 429 with `Retry-After` beyond it.
 * Keys are a claimed client id and the client address (`trustProxy` decides it), or the address
 * alone: never a person, so a limit cannot lock a named person out. While Redis is down every
 * request passes (the routes behind answer 503 by themselves).
 *
 * The defaults are for a company of 5,000 behind one NAT address at 9 a.m. with an empty
 * `allowCidrs`: if all of them sign in to five applications within ten minutes, that is 2,500
 * authorization requests and 500 upstream callbacks a minute from one address; the limits leave
 * more than twice that. Behind a shared egress, list it in `allowCidrs` rather than raise them.
 */
export const rateLimitsSchema = z.strictObject({
  /** Off: no limits at all (e.g. when a gateway in front already limits). */
  enabled: z.boolean().default(true),
  /**
   * Client networks never limited: the office egress ranges a whole company shares. Matched
   * against the trusted client address, so a `trustProxy` that covers the ingress is needed.
   */
  allowCidrs: z.array(cidrSchema).default([]),
  /** `POST /token` per claimed client id and client address (a relying party's server, or one person's kubectl). */
  token: rateLimitSchema(3000, 60).prefault({}),
  /** `POST /token/introspection`, keyed like /token (resource servers check each incoming token). */
  introspection: rateLimitSchema(3000, 60).prefault({}),
  /** `POST /token/revocation`, keyed like /token. */
  revocation: rateLimitSchema(600, 60).prefault({}),
  /** `POST /device/auth` (RFC 8628 device authorization), keyed like /token; only where device flow is on. */
  deviceAuthorization: rateLimitSchema(600, 60).prefault({}),
  /** `GET`/`POST /auth`, per address: each one stores an Interaction for `ttl.interaction`. */
  authorization: rateLimitSchema(6000, 60).prefault({}),
  /** `POST /device`, the user-code form, per address: a brake on guessing user codes. */
  deviceVerification: rateLimitSchema(300, 60).prefault({}),
  /** `/upstream/<id>/callback`, per address: one per sign-in. */
  upstreamCallback: rateLimitSchema(3000, 60).prefault({}),
});
export type RateLimitsConfig = z.infer<typeof rateLimitsSchema>;
export type RateLimitRuleName = Exclude<keyof RateLimitsConfig, 'enabled' | 'allowCidrs'>;

/**
 * The device authorization grant (RFC 8628: kubectl on a host without a browser). On only when a
 * client lists DEVICE_CODE_GRANT in its grant_types; these keys shape it for every such client.
 */
export const deviceFlowSchema = z.strictObject({
  /**
   * How long a device code and its user code stay valid: the person has this long to open the
   * verification page, enter the code and finish signing in. Longer gives a guesser of user codes
   * more live codes to hit (docs/security.md, "The device flow"). 10 min, as RFC 8628's example.
   */
  codeTtl: durationSchema.pipe(z.number().int().min(1, 'at least 1s').max(3600, 'at most 1h')).default(600),
  /**
   * Seconds a device waits between polls of the token endpoint (the `interval` of RFC 8628 §3.2).
   * A poll sooner than this after the previous one is answered `slow_down`. 5 is the RFC's default.
   */
  interval: z.number().int().min(1).max(60).default(5),
});

/** The languages of the pages (views/locales has one message file each). */
export const SUPPORTED_LOCALES = ['zh-CN', 'en'] as const;

export const uiSchema = z.strictObject({
  /** Language when neither `ui_locales` nor Accept-Language names a supported one. */
  defaultLocale: z.enum(SUPPORTED_LOCALES).default('zh-CN'),
  /** Product name in page titles. */
  title: displayNameSchema.default({ 'zh-CN': '统一登录', en: 'Sign in' }),
  /** Lines shown on the chooser above the upstream buttons; empty hides the block. */
  notice: displayNameSchema.optional(),
});

export const loggingSchema = z.strictObject({
  /** pino level. `debug` adds protocol detail, never secrets. */
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/**
 * The Prometheus metrics listener. Metrics name every client, count logins and carry the version,
 * so they are not served on the issuer's listener, which faces the internet (as Dex's telemetry
 * port). Default: on, but bound to 127.0.0.1, so nothing is exposed until an operator chooses an
 * address Prometheus can reach (in Kubernetes `host: 0.0.0.0`, a container port that no Service or
 * Ingress routes, scraped by pod IP). 9464 is the port Prometheus exporters of OpenTelemetry use.
 */
export const metricsSchema = z.strictObject({
  /** Off: no listener at all (e.g. two bridges on one host without distinct ports). */
  enabled: z.boolean().default(true),
  listen: z
    .strictObject({
      /** 127.0.0.1: only this host (or pod) can scrape. 0.0.0.0 in a container scraped by pod IP. */
      host: bindHost().default('127.0.0.1'),
      /** Must differ from `listen.port`. 0 picks a free one (tests). */
      port: z.number().int().min(0).max(65535).default(9464),
    })
    .prefault({}),
});

/**
 * What `serve` does on SIGTERM/SIGINT (src/cli/serve.ts). Kubernetes takes a terminating pod out of
 * the Service while it sends the signal, and kube-proxy and ingress controllers learn of it a few
 * seconds later: until then they keep sending new connections to the pod
 * (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination).
 */
export const shutdownSchema = z.strictObject({
  /**
   * How long a replica keeps serving after the signal: `/readyz` answers 503, every other route as
   * usual, and responses close their keep-alive connection so clients reconnect elsewhere. Then it
   * stops accepting connections, finishes the requests in flight (up to 10 s) and exits. 5 s covers
   * how long the endpoint removal takes to reach kube-proxy and the ingress; 0 stops at once (one
   * process with nothing in front). Keep the pod's `terminationGracePeriodSeconds` (30 s in
   * deploy/base) at least this + 15 s, or the kubelet kills requests in flight. A second signal
   * ends the wait.
   */
  drainDelay: durationSchema.pipe(z.number().max(3600, 'shutdown.drainDelay is at most 1h')).default(5),
});

// ---------------------------------------------------------------------------------------------
// Upstreams

const upstreamId = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'expected a lowercase id like "dingtalk" or "idaas"');

const upstreamCommon = {
  /** Config id: used in URLs (`/upstream/<id>/callback`) and the `upstream` parameter. Renaming it changes no `sub`. */
  id: upstreamId,
  displayName: displayNameSchema.optional(),
  /** Which people two upstreams share: same linkDomain + linkKey = same account. Default: type and tenant. */
  linkDomain: z.string().min(1).optional(),
  /** Milliseconds before a call to the upstream gives up. */
  timeoutMs: z.number().int().positive().default(5000),
  /**
   * Put before each of this upstream's groups, so upstreams never share a group namespace: a person
   * of a generic OIDC upstream who can name their own groups cannot receive `dingtalk:研发中心`.
   * Default `<id>:` (resolved by `groupsPrefixOf`; e.g. `dingtalk:研发中心/平台组`). Set it to keep
   * RBAC bindings when renaming the upstream's id. No prefix may begin another upstream's, and
   * groups beginning with `system:` are always dropped.
   */
  groupsPrefix: z.string().optional(),
  /**
   * An account first seen through this upstream keeps the upstream's own `sub` (e.g. the IDaaS
   * `sub`) instead of the derived one, for relying parties that stored the old value and cannot be
   * relabelled. Default false: the derived sub never changes when upstreams are added or replaced.
   * Turning it on or off later changes nothing for existing accounts (README.md, "Switching from IDaaS").
   */
  legacySubject: z.boolean().default(false),
};

/** The upstreams whose new people keep the upstream's own subject as `sub`. */
export function legacySubjectUpstreamsOf(upstreams: readonly { id: string; legacySubject: boolean }[]): Set<string> {
  return new Set(upstreams.filter((u) => u.legacySubject).map((u) => u.id));
}

/**
 * Whether new people of this upstream take usernames from what it says as they are: a DingTalk
 * upstream that enforces its organisation (`corpId`, not `allowAnyDingTalkUser`), or an oauth2/oidc
 * upstream marked `vouchesForUsernames`. The others' names carry `usernamePrefixOf`.
 */
export function vouchesForUsernames(upstream: UpstreamConfig): boolean {
  return upstream.type === 'dingtalk' ? !upstream.allowAnyDingTalkUser : upstream.vouchesForUsernames;
}

/** What the usernames of an upstream that does not vouch for them begin with: `<id>-`. */
export function usernamePrefixOf(upstream: { id: string }): string {
  return `${upstream.id}-`;
}

/**
 * A DingTalk upstream's link domain: its `linkDomain`, else the organisation (`dingtalk:<corpId>`).
 * One with `allowAnyDingTalkUser` checks no membership, so it gets a domain of its own
 * (`dingtalk-any:<corpId>`, or `dingtalk:any` without a corpId): a person who left could otherwise
 * sign in through it and take back the account, `sub` and username the enforcing upstream gave them.
 */
export function dingtalkLinkDomainOf(config: Pick<DingTalkUpstreamConfig, 'linkDomain' | 'corpId' | 'allowAnyDingTalkUser'>): string {
  if (config.linkDomain) return config.linkDomain;
  if (!config.corpId) return 'dingtalk:any';
  return config.allowAnyDingTalkUser ? `dingtalk-any:${config.corpId}` : `dingtalk:${config.corpId}`;
}

/** An upstream's group namespace: its `groupsPrefix`, else `<id>:`. */
export function groupsPrefixOf(upstream: { id: string; groupsPrefix?: string | undefined }): string {
  return upstream.groupsPrefix ?? `${upstream.id}:`;
}

const deptGroups = z.strictObject({
  source: z.literal('departments'),
  /** `path`: `研发中心/平台组`; `id`: stable `dept:<id>` values that survive renames. */
  format: z.enum(['path', 'id']).default('path'),
  /** Also emit every ancestor department (`研发中心`). */
  ancestors: z.boolean().default(true),
});
/** `departments` is shorthand for `{ source: departments, format: path, ancestors: true }`; `none` emits no groups. */
/**
 * Membership recheck timing of an upstream that can recheck (DingTalk's keys below); also what
 * src/accounts/membership.ts applies to upstream types without these keys.
 */
export const RECHECK_DEFAULTS = { recheckAfter: 15 * 60, recheckGrace: 30 * 60, sweepInterval: 3600 } as const;

const dingtalkGroups = z
  .union([z.literal('departments'), z.literal('none'), deptGroups])
  .default('departments')
  .transform((g) =>
    g === 'departments' ? { source: 'departments' as const, format: 'path' as const, ancestors: true } : g === 'none' ? undefined : g,
  );

/**
 * Sign-in inside the DingTalk app (免登): a page asks the DingTalk JSAPI for a code
 * (`requestAuthCode`) and the bridge turns it into the person through topapi/v2/user/getuserinfo.
 * `true`/`false` is short for `{ enabled }`.
 */
const dingtalkInAppLogin = z
  .union([
    z.boolean().transform((enabled) => ({ enabled })),
    z.strictObject({
      /** On by default: without the console's 免登 setup the JSAPI fails and the page falls back to the usual sign-in at once. */
      enabled: z.boolean().optional(),
      /** How long the page waits for the JSAPI before falling back to the usual sign-in (ms). */
      timeoutMs: z.number().int().min(500).max(30_000).optional(),
      /**
       * Demo and tests only (refused under NODE_ENV=production): the page loads this stand-in JSAPI
       * instead of the bundled dingtalk-jsapi, and a browser carrying `clientCookie` counts as
       * inside the DingTalk app, so a desktop browser can try the flow.
       */
      standIn: z
        .strictObject({
          jsapiUrl: httpUrl,
          clientCookie: z
            .string()
            .regex(/^[A-Za-z0-9_-]{1,64}$/)
            .default('sandbox_dingtalk_user'),
        })
        .optional(),
    }),
  ])
  .default({})
  .transform((v) => ({
    enabled: v.enabled ?? true,
    timeoutMs: ('timeoutMs' in v ? v.timeoutMs : undefined) ?? 5000,
    ...('standIn' in v && v.standIn ? { standIn: v.standIn } : {}),
  }));

export const dingtalkUpstreamSchema = z
  .strictObject({
    ...upstreamCommon,
    type: z.literal('dingtalk'),
    /** The internal app's AppKey (ClientID). */
    clientId: z.string().min(1),
    /** The internal app's AppSecret. */
    clientSecret: z.string().min(1),
    /** Only members of this organisation log in. Required unless `allowAnyDingTalkUser`. */
    corpId: z.string().min(1).optional(),
    /** Lets anyone with a DingTalk account in (no membership check). `check` warns loudly. */
    allowAnyDingTalkUser: z.boolean().default(false),
    groups: dingtalkGroups,
    /** Which DingTalk attribute links accounts: `unionId` (default) or the organisation `userid`. */
    linkKey: z.enum(['unionId', 'userid']).default('unionId'),
    /** A reused browser session rechecks membership when its last check is older than this. */
    recheckAfter: durationSchema.default(RECHECK_DEFAULTS.recheckAfter),
    /**
     * While DingTalk is unreachable, a refresh fails softly (503) and a reused browser session is
     * still accepted until the last good check is this old.
     */
    recheckGrace: durationSchema.default(RECHECK_DEFAULTS.recheckGrace),
    /** How often one replica rechecks every account with live grants. 0 turns the sweep off. */
    sweepInterval: durationSchema.default(RECHECK_DEFAULTS.sweepInterval),
    inAppLogin: dingtalkInAppLogin,
    /**
     * `oauth2`: DingTalk's current login (统一登录). `legacy-sns`: the old QR-code login app
     * (connect/qrconnect and sns/getuserinfo_bycode), for organisations that still run one; it
     * has its own AppId/AppSecret (`legacyAppId`, `legacyAppSecret`). Membership is checked with
     * the internal app (`clientId`, `clientSecret`) either way.
     */
    mode: z.enum(['oauth2', 'legacy-sns']).default('oauth2'),
    /** The legacy login app's AppId (`appid` / `accessKey`); required with `mode: legacy-sns`. */
    legacyAppId: z.string().min(1).optional(),
    /** The legacy login app's AppSecret: it signs sns/getuserinfo_bycode; required with `mode: legacy-sns`. */
    legacyAppSecret: z.string().min(1).optional(),
    endpoints: z
      .strictObject({
        authorize: httpUrl.default('https://login.dingtalk.com/oauth2/auth'),
        api: httpUrl.default('https://api.dingtalk.com'),
        oapi: httpUrl.default('https://oapi.dingtalk.com'),
        /** The legacy QR-code login page (`mode: legacy-sns`). */
        legacyAuthorize: httpUrl.default('https://oapi.dingtalk.com/connect/qrconnect'),
      })
      .prefault({}),
  })
  .superRefine((u, ctx) => {
    if (u.mode === 'legacy-sns') {
      for (const key of ['legacyAppId', 'legacyAppSecret'] as const) {
        if (!u[key])
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'required with mode: legacy-sns (the legacy login app is its own credential)',
          });
      }
    }
    if (!u.corpId && !u.allowAnyDingTalkUser) {
      ctx.addIssue({
        code: 'custom',
        path: ['corpId'],
        message: 'required: only members of this organisation may log in (or set allowAnyDingTalkUser: true)',
      });
    }
  });

/** Claim mapping by dotted path into the upstream's userinfo / ID token (`data.sub`). */
export const claimMapSchema = z.strictObject({
  subject: z.string().min(1),
  name: z.string().optional(),
  email: z.string().optional(),
  emailVerified: z.string().optional(),
  username: z.string().optional(),
  phoneNumber: z.string().optional(),
  picture: z.string().optional(),
  groups: z.string().optional(),
  /** The attribute that links accounts (default: the subject). Never an email or mobile number. */
  linkKey: z.string().optional(),
});
export type ClaimMap = z.infer<typeof claimMapSchema>;

const clientAuth = z.enum(['client_secret_basic', 'client_secret_post']);

/**
 * oauth2 and oidc upstreams cannot be asked whether a person still belongs: a reused browser
 * session whose person last came through the upstream longer ago than this goes through the
 * upstream again (a new leg; the upstream's own session usually answers it without a page), so
 * someone disabled there stops signing in. 15 min, like DingTalk's membership recheck; raise it if
 * the round trip is noticed too often, lower it to close the gap sooner.
 */
const reauthenticateAfter = durationSchema.default(RECHECK_DEFAULTS.recheckAfter);

/**
 * The recheck after `recheckAfter` first asks the upstream without a page: a leg with
 * `prompt=none` (OIDC Core 1.0 §3.1.2.1). When the upstream answers with a code for the same
 * person, the session goes on and nobody is asked anything; any error (`login_required`,
 * `interaction_required`, `consent_required` …) or another person means the usual interactive leg.
 * OpenID Providers must support `prompt=none`, so it is on for `oidc`; a plain OAuth2 server may
 * not know it, so it is off for `oauth2` unless the operator knows it does.
 */
const silentRecheck = (fallback: boolean) => z.boolean().default(fallback);

export const oauth2UpstreamSchema = z
  .strictObject({
    ...upstreamCommon,
    type: z.literal('oauth2'),
    /** `aliyun-idaas`: EIAM 1.0 paths below `baseURL`, scope `read` and its wrapped `data.*` userinfo. */
    preset: z.enum(['aliyun-idaas']).optional(),
    /** With a preset: the instance URL (`https://xxx.login.aliyunidaas.com`) the preset's paths hang off. */
    baseURL: httpUrl.optional(),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1),
    authorizationURL: httpUrl.optional(),
    tokenURL: httpUrl.optional(),
    userInfoURL: httpUrl.optional(),
    scope: z.string().optional(),
    /** How the bridge authenticates at the token endpoint. */
    clientAuth: clientAuth.default('client_secret_post'),
    /**
     * Send PKCE (S256): binds the code to this leg, so a code stolen or injected at the callback is
     * useless (https://www.rfc-editor.org/rfc/rfc9700#section-2.1.1). Default: on, because a server
     * that does not know the parameters must ignore them (RFC 6749 §3.1); off with
     * `preset: aliyun-idaas`, whose EIAM 1.0 server documents no PKCE. Set false only for a server
     * that rejects the parameters, true for a preset's server that has learnt them.
     */
    pkce: z.boolean().optional(),
    /**
     * The upstream vouches for the names it gives (a corporate directory whose `preferred_username`
     * or email people cannot choose themselves): new people get their usernames from it as they are.
     * Default false: a generic IdP's names are self-asserted, so its people's usernames carry the
     * prefix `<id>-` (`idaas-zhangwei`) and can never take a name the organisation's directory would give.
     */
    vouchesForUsernames: z.boolean().default(false),
    /**
     * The upstream only holds email addresses it verified (e.g. a corporate directory behind an
     * IDaaS): treat a mapped email as verified when the upstream does not say otherwise, so clients
     * with `emitEmail: verified` receive it. Default: false (the aliyun-idaas preset included): an unverified email never links or verifies.
     */
    trustEmail: z.boolean().optional(),
    claims: claimMapSchema.partial({ subject: true }).optional(),
    recheckAfter: reauthenticateAfter,
    silentRecheck: silentRecheck(false),
  })
  .superRefine((u, ctx) => {
    for (const key of ['authorizationURL', 'tokenURL', 'userInfoURL'] as const) {
      if (!u[key] && !(u.preset && u.baseURL)) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'required (or give preset and baseURL)' });
      }
    }
    if (!u.preset && !u.claims?.subject) {
      ctx.addIssue({ code: 'custom', path: ['claims', 'subject'], message: 'required: the userinfo path of the stable user id' });
    }
  });

export const oidcUpstreamSchema = z.strictObject({
  ...upstreamCommon,
  type: z.literal('oidc'),
  /** The upstream issuer; its discovery document is fetched at start-up and cached. */
  issuer: httpUrl,
  clientId: z.string().min(1),
  clientSecret: z.string().min(1).optional(),
  scope: z.string().default('openid profile email'),
  clientAuth: clientAuth.default('client_secret_basic'),
  /** PKCE S256; on by default (OAuth 2.1), turn off only for an upstream that rejects it. */
  pkce: z.boolean().default(true),
  /**
   * The upstream vouches for the names it gives (a corporate directory whose `preferred_username`
   * or email people cannot choose themselves): new people get their usernames from it as they are.
   * Default false: a generic IdP's names are self-asserted, so its people's usernames carry the
   * prefix `<id>-` (`idaas-zhangwei`) and can never take a name the organisation's directory would give.
   */
  vouchesForUsernames: z.boolean().default(false),
  /** Also call the userinfo endpoint and merge its claims over the ID token's. */
  userInfo: z.boolean().default(false),
  /**
   * The upstream only holds email addresses it verified (e.g. a corporate directory behind an
   * IDaaS): treat a mapped email as verified when the upstream does not say otherwise, so clients
   * with `emitEmail: verified` receive it. Default false: an unverified email never links or verifies.
   */
  trustEmail: z.boolean().default(false),
  claims: claimMapSchema.partial({ subject: true }).default({}),
  recheckAfter: reauthenticateAfter,
  silentRecheck: silentRecheck(true),
});

export const upstreamSchema = z.discriminatedUnion('type', [dingtalkUpstreamSchema, oauth2UpstreamSchema, oidcUpstreamSchema]);
export type UpstreamConfig = z.infer<typeof upstreamSchema>;
export type DingTalkUpstreamConfig = z.infer<typeof dingtalkUpstreamSchema>;
export type OAuth2UpstreamConfig = z.infer<typeof oauth2UpstreamSchema>;
export type OidcUpstreamConfig = z.infer<typeof oidcUpstreamSchema>;

// ---------------------------------------------------------------------------------------------
// Clients: our keys plus the oidc-provider client metadata we support.

export const clientExtrasSchema = {
  /** First-party client: the bridge answers consent itself (also for prompt=consent; docs/architecture.md, "Decisions"). */
  skipConsent: z.boolean().default(false),
  /** Which upstreams this client offers, by id. Default: all. */
  upstreams: z.array(upstreamId).min(1).optional(),
  /** `verified`: only emails the upstream vouches for; `any`: also admin-entered ones; `never`. */
  emitEmail: z.enum(['verified', 'any', 'never']).default('verified'),
  /**
   * Group claim shaping for this client, applied when tokens are issued to the upstream-namespaced
   * groups (`dingtalk:研发中心`, see the upstream's `groupsPrefix`): `allow` patterns match a group as
   * its upstream gave it, then the namespace and `prefix` go before it, then the list is cut to `max`.
   */
  groups: z
    .strictObject({
      prefix: z.string().default(''),
      /** Only groups matching these (as the upstream gave them, before namespace and prefix) are emitted; a trailing `*` matches any rest. */
      allow: z.array(z.string()).optional(),
      /** At most this many groups; kube-apiserver and cookies have limits. */
      max: z.number().int().positive().default(100),
    })
    .optional(),
  /** A resource server may introspect any token; other clients only their own. */
  resourceServer: z.boolean().default(false),
  /**
   * This client's refresh grace window in seconds, instead of the top-level `refreshGraceSeconds`.
   * Within the window a reuse of an already rotated refresh token receives the winner's answer (a
   * retry after a network error keeps its grant), so whoever holds a stolen copy and this
   * client's credentials gets the new tokens too (docs/security.md, "Sessions and refresh
   * tokens"). Set 0 for a client that never retries a refresh, e.g. a public client, so any reuse
   * revokes the grant; unset, the global value applies.
   */
  refreshGraceSeconds: z.number().int().min(0).max(120).optional(),
  /**
   * Require PKCE (S256) of this confidential client too, so a code stolen from its redirect cannot
   * be redeemed without the verifier (https://www.rfc-editor.org/rfc/rfc9700#section-2.1.1).
   * Public clients (`token_endpoint_auth_method: none`) always need it. Default off, because some
   * confidential clients send none (KubeSphere 3.x); turn it on for those that do (Grafana, Argo CD,
   * oauth2-proxy, Harbor …).
   */
  requirePkce: z.boolean().default(false),
};

/** RFC 8628 §3.4: the device authorization grant's grant_type. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * Matched exactly (RFC 6749 §3.1.2), so an absolute URL, written out: oidc-provider would refuse
 * anything else only when the client first uses it, and a `*` is never a pattern. A fragment can
 * never be redirected to.
 */
const redirectUri = z
  .string()
  .min(1)
  .refine((u) => URL.canParse(u), 'a redirect URI must be an absolute URL, e.g. https://app.example.com/callback')
  .refine((u) => !u.includes('*'), 'a redirect URI matches exactly, never as a pattern: list each URI without "*"')
  .refine((u) => !u.includes('#'), 'a redirect URI must not contain a fragment (RFC 6749 §3.1.2)');

export const clientSchema = z
  .strictObject({
    ...clientExtrasSchema,
    client_id: z.string().min(1),
    /**
     * The secret itself, or `sha256:<hex | base64url>` of a secret of 32+ random bytes (only with
     * client_secret_basic / client_secret_post): `oidc-bridge clients hash-secret` makes one.
     */
    client_secret: z.string().min(1).optional(),
    client_name: z.string().optional(),
    /** Required with the authorization_code grant (the default); a client with only the device grant has none. */
    redirect_uris: z.array(redirectUri).min(1).optional(),
    post_logout_redirect_uris: z.array(redirectUri).optional(),
    /** Default [authorization_code]. DEVICE_CODE_GRANT: the device flow (kubelogin `--grant-type=device-code`). */
    grant_types: z.array(z.enum(['authorization_code', 'refresh_token', 'client_credentials', DEVICE_CODE_GRANT])).optional(),
    response_types: z.array(z.literal('code')).optional(),
    token_endpoint_auth_method: z
      .enum(['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'])
      .optional(),
    application_type: z.enum(['web', 'native']).optional(),
    id_token_signed_response_alg: z.enum(['RS256', 'ES256']).optional(),
    userinfo_signed_response_alg: z.enum(['RS256', 'ES256']).optional(),
    introspection_signed_response_alg: z.enum(['RS256', 'ES256']).optional(),
    backchannel_logout_uri: z.string().optional(),
    backchannel_logout_session_required: z.boolean().optional(),
    scope: z.string().optional(),
    jwks_uri: z.string().optional(),
    logo_uri: z.string().optional(),
    client_uri: z.string().optional(),
    policy_uri: z.string().optional(),
    tos_uri: z.string().optional(),
  })
  .superRefine((c, ctx) => {
    if (c.token_endpoint_auth_method !== 'none' && !c.client_secret && c.token_endpoint_auth_method !== 'private_key_jwt') {
      ctx.addIssue({
        code: 'custom',
        path: ['client_secret'],
        message: 'required for a confidential client (or set token_endpoint_auth_method: none for a public one)',
      });
    }
    if (c.client_secret !== undefined && isHashedSecret(c.client_secret)) checkHashedSecret(c, ctx);
    const grants = c.grant_types ?? ['authorization_code'];
    if (grants.includes('authorization_code') && !c.redirect_uris) {
      ctx.addIssue({
        code: 'custom',
        path: ['redirect_uris'],
        message: `required with the authorization_code grant (a device-only client lists grant_types: [${DEVICE_CODE_GRANT}])`,
      });
    }
    if (c.response_types?.length && !grants.includes('authorization_code')) {
      ctx.addIssue({ code: 'custom', path: ['response_types'], message: 'response type code needs the authorization_code grant' });
    }
  });

/**
 * A `sha256:` client_secret can only be compared with what a client presents: client_secret_jwt
 * (and any HS* or secret-derived encryption algorithm) needs the secret itself as a key.
 */
function checkHashedSecret(c: { client_secret?: string; token_endpoint_auth_method?: string }, ctx: z.RefinementCtx) {
  const path = ['client_secret'];
  if (hashedSecretDigest(c.client_secret!) === undefined) {
    ctx.addIssue({
      code: 'custom',
      path,
      message: `a hashed secret is sha256: followed by the SHA-256 digest in hex (64 characters) or base64url (43); run \`oidc-bridge clients hash-secret\``,
    });
  }
  const method = c.token_endpoint_auth_method ?? 'client_secret_basic';
  if (method !== 'client_secret_basic' && method !== 'client_secret_post') {
    ctx.addIssue({
      code: 'custom',
      path,
      message: `a hashed (sha256:) secret works only with token_endpoint_auth_method client_secret_basic or client_secret_post; ${method} needs the secret itself${method === 'client_secret_jwt' ? ' as the HMAC key of the client assertion' : ''}`,
    });
  }
}
export type ClientConfig = z.infer<typeof clientSchema>;

// ---------------------------------------------------------------------------------------------
// The whole file

export const configSchema = z
  .strictObject({
    /** The exact issuer string RPs configure. A path is allowed; every route lives under it. */
    issuer: httpUrl.refine((s) => !/[?#]/.test(s) && !s.endsWith('/'), 'no query, fragment or trailing slash'),
    listen: listenSchema.prefault({}),
    trustProxy: trustProxySchema.optional(),
    store: storeSchema.prefault({ type: 'memory' }),
    keys: keysSchema.prefault({}),
    /** Secrets that sign cookies; the first signs, all verify (rotate by prepending). 32+ characters each. */
    cookieSecrets: z.array(z.string().min(32, 'cookie secrets need at least 32 characters')).min(1),
    usernames: usernamesSchema.prefault({}),
    ttl: ttlSchema.prefault({}),
    /** Concurrent redemptions of one refresh token within this window receive the winner's response. */
    refreshGraceSeconds: z.number().int().min(0).max(120).default(10),
    ui: uiSchema.prefault({}),
    requestLimits: requestLimitsSchema.prefault({}),
    rateLimits: rateLimitsSchema.prefault({}),
    deviceFlow: deviceFlowSchema.prefault({}),
    logging: loggingSchema.prefault({}),
    metrics: metricsSchema.prefault({}),
    shutdown: shutdownSchema.prefault({}),
    upstreams: z.array(upstreamSchema).min(1, 'configure at least one upstream'),
    clients: z.array(clientSchema).min(1, 'configure at least one client'),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.metrics.enabled && cfg.metrics.listen.port !== 0 && cfg.metrics.listen.port === cfg.listen.port) {
      ctx.addIssue({
        code: 'custom',
        path: ['metrics', 'listen', 'port'],
        message: `the metrics listener needs a port of its own (listen.port is ${cfg.listen.port} too)`,
      });
    }
    const ids = new Set<string>();
    cfg.upstreams.forEach((u, i) => {
      if (ids.has(u.id)) ctx.addIssue({ code: 'custom', path: ['upstreams', i, 'id'], message: `duplicate upstream id "${u.id}"` });
      ids.add(u.id);
    });
    // One namespace per upstream: no prefix may begin another's ('' begins every one).
    cfg.upstreams.forEach((u, i) => {
      const prefix = groupsPrefixOf(u);
      const shared = cfg.upstreams.find((other, j) => j !== i && groupsPrefixOf(other).startsWith(prefix));
      if (shared)
        ctx.addIssue({
          code: 'custom',
          path: ['upstreams', i, 'groupsPrefix'],
          message: `"${prefix}" would share a groups namespace with upstream "${shared.id}" ("${groupsPrefixOf(shared)}"): give each upstream its own prefix`,
        });
    });
    // A permissive DingTalk upstream never links in an enforcing one's domain (see dingtalkLinkDomainOf).
    cfg.upstreams.forEach((u, i) => {
      if (u.type !== 'dingtalk' || !u.allowAnyDingTalkUser) return;
      const domain = dingtalkLinkDomainOf(u);
      const enforcing = cfg.upstreams.find((e) => e.type === 'dingtalk' && !e.allowAnyDingTalkUser && dingtalkLinkDomainOf(e) === domain);
      if (enforcing)
        ctx.addIssue({
          code: 'custom',
          path: ['upstreams', i, 'linkDomain'],
          message: `"${domain}" is the link domain of upstream "${enforcing.id}", which checks membership: an upstream with allowAnyDingTalkUser needs its own (the default is dingtalk-any:<corpId>)`,
        });
    });
    const clientIds = new Set<string>();
    cfg.clients.forEach((c, i) => {
      if (clientIds.has(c.client_id))
        ctx.addIssue({ code: 'custom', path: ['clients', i, 'client_id'], message: `duplicate client_id "${c.client_id}"` });
      clientIds.add(c.client_id);
      c.upstreams?.forEach((id, j) => {
        if (!ids.has(id))
          ctx.addIssue({
            code: 'custom',
            path: ['clients', i, 'upstreams', j],
            message: `unknown upstream "${id}" (configured: ${[...ids].join(', ')})`,
          });
      });
    });
  });

export type Config = z.infer<typeof configSchema>;
