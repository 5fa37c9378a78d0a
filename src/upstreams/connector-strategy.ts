/**
 * The one passport strategy every upstream runs through: it turns a Connector into passport's
 * `authenticate(req)`.
 * - Start route: a new leg's secrets are stored with a fresh single-use `state` (LegStore), then
 *   a redirect to the connector's login URL.
 * - Callback route (`callback: true`, or a query with `code`, `authCode`, `state` or `error`): the
 *   `state` is burnt FIRST, so a forged or replayed callback, `?error=` included, gets no further;
 *   then the connector turns the callback into an UpstreamIdentity.
 * Every failure reaches passport's `error` as an UpstreamError or LegStateError (a store outage
 * keeps its own type: the route answers 503, not an upstream error page).
 */
import type { Request } from 'express';
import passport from 'passport';
import { StoreUnavailableError } from '../store/types.js';
import { settle } from './settle.js';
import {
  asUpstreamError,
  LegStateError,
  UpstreamError,
  type Connector,
  type LegStore,
  type UpstreamAuthenticateOptions,
  type UpstreamIdentity,
} from './types.js';

/** The per-request actions passport assigns onto the strategy: plain functions, not methods. */
interface Actions {
  success: (user: UpstreamIdentity) => void;
  redirect: (url: string) => void;
  error: (err: unknown) => void;
}

const CALLBACK_PARAMS = ['code', 'authCode', 'state', 'error'];

export class ConnectorStrategy extends passport.Strategy {
  constructor(
    private readonly connector: Connector,
    private readonly callbackUrl: string,
    private readonly legs: LegStore,
    /** The connector's start-up work, run (or retried) before each use. */
    private readonly ready: () => Promise<void>,
  ) {
    super();
    this.name = connector.id;
  }

  override authenticate(req: Request, options: UpstreamAuthenticateOptions = {}): void {
    // passport 0.7 assigns each request's actions onto the strategy object it was handed
    // (https://github.com/jaredhanson/passport/blob/v0.7.0/lib/middleware/authenticate.js#L189-L378).
    // Taking them before the first await is what lets one object serve concurrent requests.
    const { success, redirect, error } = this as unknown as Actions;
    const params = new URL(req.originalUrl ?? req.url, 'http://callback.invalid').searchParams;
    const isCallback = options.callback ?? CALLBACK_PARAMS.some((name) => params.has(name));
    const outcome: Promise<{ redirect: string } | { identity: UpstreamIdentity }> = isCallback
      ? this.finish(req, params)
      : this.start(req, options.authorizationParams ?? {});
    settle(
      outcome,
      (done) => ('redirect' in done ? redirect(done.redirect) : success(done.identity)),
      (err) => {
        const known = err instanceof UpstreamError || err instanceof LegStateError || err instanceof StoreUnavailableError;
        error(known ? err : asUpstreamError(this.connector.id, err));
      },
    );
  }

  private async start(req: Request, extra: Record<string, string>): Promise<{ redirect: string }> {
    await this.ready();
    const secrets = this.connector.newLeg?.() ?? {};
    const state = await this.legs.begin(req, secrets);
    return { redirect: await this.connector.loginUrl({ callbackUrl: this.callbackUrl, state, secrets, extra }) };
  }

  private async finish(req: Request, params: URLSearchParams): Promise<{ identity: UpstreamIdentity }> {
    // A repeated `state` is no state we issued.
    const states = params.getAll('state');
    const state = states.length === 1 ? states[0] : undefined;
    const secrets = await this.legs.finish(req, state);
    await this.ready();
    return { identity: await this.connector.handleCallback({ callbackUrl: this.callbackUrl, params, state: state!, secrets }) };
  }
}
