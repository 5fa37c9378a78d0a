/**
 * The bridge's own Prometheus metrics (README "Metrics"), served on a listener of their own
 * (`metrics.listen`), never on the issuer's: they name clients and the running version. Other modules count through the small
 * interfaces they declare (LoginMetrics, TokenMetrics, MembershipMetrics, RateLimitMetrics), so only
 * src/server imports prom-client; this file implements them all on one registry.
 *
 * Labels stay low-cardinality and free of personal data: upstream and client ids come from config
 * (anything else is "unknown"), grant types and error codes from fixed lists (anything else is
 * "other"). Never a user id, token, code, secret or address.
 */
import { readFileSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { MembershipMetrics, RecheckOutcome, RecheckTrigger, SweepOutcome } from '../accounts/membership.js';
import type { LoginMetrics, LoginOutcome } from '../interactions/context.js';
import type { TokenMetrics } from '../oidc/provider.js';
import { RATE_LIMIT_RULES, type RateLimitMetrics } from './rate-limit.js';

export type Metrics = LoginMetrics & TokenMetrics & MembershipMetrics & RateLimitMetrics;

export interface MetricsOptions {
  /** Configured client ids: the only values of the client_id label besides "unknown". */
  clientIds: readonly string[];
  /** Configured upstream ids: the only values of the upstream label besides "unknown". */
  upstreamIds: readonly string[];
  /** Default: package.json's version. */
  version?: string;
}

const LOGIN_OUTCOMES: readonly LoginOutcome[] = [
  'success',
  'denied',
  'not_allowed',
  'misconfigured',
  'unavailable',
  'failed',
  'invalid_state',
];
const SWEEP_OUTCOMES: readonly SweepOutcome[] = ['completed', 'stopped', 'skipped', 'failed'];

/** The grant types oidc-provider can be configured for; a request's grant_type is client input. */
const GRANT_TYPES = new Set([
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:openid:params:grant-type:ciba',
  'urn:ietf:params:oauth:grant-type:token-exchange',
]);

/**
 * OAuth error codes the token endpoint answers (RFC 6749 §5.2, RFC 8628, RFC 9449, and
 * https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/helpers/errors.js).
 */
const ERROR_CODES = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'invalid_dpop_proof',
  'use_dpop_nonce',
  'invalid_authorization_details',
  'authorization_pending',
  'slow_down',
  'expired_token',
  'access_denied',
  'expired_login_hint_token',
  'transaction_failed',
  'unmet_authentication_requirements',
  'invalid_client_attestation',
  'use_attestation_challenge',
  'use_fresh_attestation',
  'temporarily_unavailable',
  'server_error',
]);

function packageVersion(): string {
  try {
    // ../../ from both src/server and dist/server.
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

const among = (known: ReadonlySet<string>, value: string | undefined, fallback: string) =>
  value !== undefined && known.has(value) ? value : fallback;

/** A registry with Node's process metrics; the bridge's own go on it through `createMetrics`. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Registers the counters and gauges on `registry` (once per registry) and returns the counting functions. */
export function createMetrics(registry: Registry, options: MetricsOptions): Metrics {
  const clients = new Set(options.clientIds);
  const upstreams = new Set(options.upstreamIds);
  const upstreamOf = (id: string) => among(upstreams, id, 'unknown');
  const registers = [registry];

  new Gauge({
    name: 'oidc_bridge_build_info',
    help: 'Always 1; the version label names the running release',
    labelNames: ['version'],
    registers,
  }).set({ version: options.version ?? packageVersion() }, 1);
  const logins = new Counter({
    name: 'oidc_bridge_logins_total',
    help: 'Upstream sign-ins by how they ended',
    labelNames: ['upstream', 'outcome'],
    registers,
  });
  const tokens = new Counter({
    name: 'oidc_bridge_token_requests_total',
    help: 'Token endpoint requests by client, grant type and outcome (success or the OAuth error code)',
    labelNames: ['client_id', 'grant_type', 'outcome'],
    registers,
  });
  const rechecks = new Counter({
    name: 'oidc_bridge_membership_rechecks_total',
    help: 'Membership rechecks by upstream, what asked, and the answer',
    labelNames: ['upstream', 'trigger', 'outcome'],
    registers,
  });
  const sweeps = new Counter({
    name: 'oidc_bridge_membership_sweeps_total',
    help: 'Membership sweeps by outcome',
    labelNames: ['outcome'],
    registers,
  });
  const lastSweep = new Gauge({
    name: 'oidc_bridge_membership_sweep_last_success_timestamp_seconds',
    help: 'When this replica last completed a membership sweep (0: never)',
    registers,
  });
  const offboarded = new Counter({
    name: 'oidc_bridge_accounts_offboarded_total',
    help: 'Accounts marked left because their upstream said the person is gone',
    labelNames: ['upstream'],
    registers,
  });

  const rateLimited = new Counter({
    name: 'oidc_bridge_rate_limited_total',
    help: 'Requests refused with 429 by a rate limit, by rule (docs/security.md, "Rate limits")',
    labelNames: ['rule'],
    registers,
  });
  const rateLimitUnavailable = new Counter({
    name: 'oidc_bridge_rate_limit_unavailable_total',
    help: 'Requests let through uncounted because the store could not count them (fail open), by rule',
    labelNames: ['rule'],
    registers,
  });

  // Zero series from the start, so rate() and absence alerts work before the first event.
  for (const upstream of upstreams) {
    for (const outcome of LOGIN_OUTCOMES) logins.inc({ upstream, outcome }, 0);
    offboarded.inc({ upstream }, 0);
  }
  for (const outcome of SWEEP_OUTCOMES) sweeps.inc({ outcome }, 0);
  for (const { name: rule } of RATE_LIMIT_RULES) {
    rateLimited.inc({ rule }, 0);
    rateLimitUnavailable.inc({ rule }, 0);
  }

  return {
    loginFinished(upstream: string, outcome: LoginOutcome) {
      logins.inc({ upstream: upstreamOf(upstream), outcome });
    },
    tokenRequest(clientId: string | undefined, grantType: string | undefined, outcome: string) {
      tokens.inc({
        client_id: among(clients, clientId, 'unknown'),
        grant_type: among(GRANT_TYPES, grantType, 'other'),
        outcome: outcome === 'success' ? outcome : among(ERROR_CODES, outcome, 'other'),
      });
    },
    recheckFinished(upstream: string, trigger: RecheckTrigger, outcome: RecheckOutcome) {
      rechecks.inc({ upstream: upstreamOf(upstream), trigger, outcome });
    },
    sweepFinished(outcome: SweepOutcome) {
      sweeps.inc({ outcome });
      if (outcome === 'completed') lastSweep.setToCurrentTime();
    },
    accountOffboarded(upstream: string) {
      offboarded.inc({ upstream: upstreamOf(upstream) });
    },
    rateLimited(rule) {
      rateLimited.inc({ rule });
    },
    rateLimitUnavailable(rule) {
      rateLimitUnavailable.inc({ rule });
    },
  };
}

/**
 * The metrics listener's whole surface: `GET /metrics` in the text exposition format, 404 for any
 * other path. Plain node:http, so nothing of the issuer's app (routes, pages, cookies) is reachable
 * on this port.
 */
export function metricsHandler(registry: Registry): RequestListener {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      () => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('collecting metrics failed\n'),
    );
  };
}
