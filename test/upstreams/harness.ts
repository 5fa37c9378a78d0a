/**
 * Drives an upstream strategy end to end without oidc-provider: an express app with a start and a
 * callback route (mounted as interactions/ will: `passport.authenticate(strategy, { session: false },
 * callback)`), a Map-based single-use LegStore, and a redirect-following client.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request } from 'express';
import assert from 'node:assert/strict';
import passport from 'passport';
import { upstreamOf } from '../../src/upstreams/registry.js';
import {
  LegStateError,
  type Connector,
  type LegSecrets,
  type LegStore,
  type Upstream,
  type UpstreamIdentity,
} from '../../src/upstreams/types.js';
import type { UpstreamLogger } from '../../src/upstreams/upstream-deps.js';

export interface RecordingLegStore extends LegStore {
  begun: LegSecrets[];
  live(): number;
}

/** Single use, keyed by state; no browser binding (the strategy passes LegStateError through untouched). */
export function mapLegStore(): RecordingLegStore {
  const legs = new Map<string, LegSecrets>();
  const begun: LegSecrets[] = [];
  return {
    begun,
    live: () => legs.size,
    async begin(_req: Request, secrets: LegSecrets) {
      const state = randomBytes(12).toString('base64url');
      legs.set(state, secrets);
      begun.push(secrets);
      return state;
    },
    async finish(_req: Request, state: string | undefined) {
      if (state === undefined) throw new LegStateError('missing', 'no state in the callback');
      const secrets = legs.get(state);
      if (!secrets) throw new LegStateError('unknown', 'state unknown or already used');
      legs.delete(state);
      return secrets;
    },
  };
}

export interface Outcome {
  err?: unknown;
  identity?: UpstreamIdentity;
}

export interface Harness {
  url: string;
  callbackUrl: string;
  legs: RecordingLegStore;
  outcomes: Outcome[];
  close(): Promise<void>;
}

export interface FlowResult {
  /** Where the start route sent the browser. */
  authorizeUrl: URL;
  /** Where the upstream sent the browser back (undefined when it did not redirect). */
  callbackUrl?: URL;
  outcome: Outcome;
}

/** Options for the start route's `passport.authenticate` call (besides `session: false`). */
export type StartOptions = Record<string, unknown>;

/** Where the harness registers its callback URL, as an operator registers the bridge's at the upstream. */
export interface RedirectRegistry {
  addRedirectUri(redirectUri: string): void;
}

/** Mounts an upstream, or a bare connector as the registry would (upstreamOf), and registers its callback at `at`. */
export async function startHarness(
  upstream: Upstream | Connector,
  at: RedirectRegistry,
  startOptions: StartOptions = {},
): Promise<Harness> {
  const app = express();
  const outcomes: Outcome[] = [];
  const legs = mapLegStore();
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const callbackUrl = `${url}/callback`;
  at.addRedirectUri(callbackUrl);
  const strategy = ('createStrategy' in upstream ? upstream : upstreamOf(upstream, recordingLogger())).createStrategy(callbackUrl, legs);
  app.get('/start', (req, res, next) => {
    passport.authenticate(strategy, { session: false, ...startOptions }, (err: unknown) => {
      // The start route only ever redirects; anything reaching here is an error.
      outcomes.push({ err });
      res.status(500).json({ outcome: outcomes.length - 1 });
    })(req, res, next);
  });
  app.get('/callback', (req, res, next) => {
    // `callback: true` is ours (UpstreamAuthenticateOptions): passport hands every option to the strategy.
    passport.authenticate(strategy, { session: false, callback: true }, (err: unknown, identity: UpstreamIdentity | false) => {
      outcomes.push(err ? { err } : { identity: identity || undefined });
      res.status(err ? 400 : 200).json({ outcome: outcomes.length - 1 });
    })(req, res, next);
  });
  return {
    url,
    callbackUrl,
    legs,
    outcomes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function follow(url: string | URL): Promise<{ status: number; location?: URL; body: unknown }> {
  // A lost response (e.g. actions crossed between concurrent requests) fails the test instead of hanging it.
  const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
  const location = res.headers.get('location');
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, location: location ? new URL(location, url) : undefined, body };
}

/** start → upstream authorize (302) → our callback: the outcome the custom callback received. */
export async function runFlow(harness: Harness): Promise<FlowResult> {
  const start = await follow(`${harness.url}/start`);
  if (start.status !== 302 || !start.location) return { authorizeUrl: new URL(harness.url), outcome: outcomeOf(harness, start.body) };
  const authorize = await follow(start.location);
  if (authorize.status !== 302 || !authorize.location)
    throw new Error(`authorize answered ${authorize.status}: ${JSON.stringify(authorize.body)}`);
  const result = await callback(harness, authorize.location);
  return { authorizeUrl: start.location, callbackUrl: authorize.location, outcome: result };
}

/** Only the first two legs: the callback URL the upstream sent the browser to, not yet visited. */
export async function runUntilCallback(harness: Harness): Promise<URL> {
  const start = await follow(`${harness.url}/start`);
  if (!start.location) throw new Error(`start answered ${start.status}`);
  const authorize = await follow(start.location);
  if (!authorize.location) throw new Error(`authorize answered ${authorize.status}`);
  return authorize.location;
}

export async function callback(harness: Harness, url: string | URL): Promise<Outcome> {
  const res = await follow(url);
  return outcomeOf(harness, res.body);
}

function outcomeOf(harness: Harness, body: unknown): Outcome {
  const index = (body as { outcome?: number } | undefined)?.outcome;
  if (typeof index !== 'number') throw new Error(`no outcome in ${JSON.stringify(body)}`);
  return harness.outcomes[index]!;
}

export interface RecordingLogger extends UpstreamLogger {
  lines: { level: string; details: Record<string, unknown>; message: string }[];
}

export function recordingLogger(): RecordingLogger {
  const lines: RecordingLogger['lines'] = [];
  return {
    lines,
    info: (details, message) => {
      lines.push({ level: 'info', details, message });
    },
    warn: (details, message) => {
      lines.push({ level: 'warn', details, message });
    },
  };
}

/**
 * Asserts the outcome is a LegStateError (with `reason` when given). Assertions here carry explicit
 * messages: without one, node's assert re-parses the failing TypeScript source, which takes minutes.
 */
export function assertLegStateError(outcome: Outcome, reason?: LegStateError['reason']): LegStateError {
  const { err } = outcome;
  assert.ok(err instanceof LegStateError, `expected LegStateError, got ${outcome.identity ? 'an identity' : String(err)}`);
  if (reason) assert.equal(err.reason, reason);
  return err;
}
