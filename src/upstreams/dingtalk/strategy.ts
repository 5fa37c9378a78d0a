/**
 * The DingTalk passport strategy. DingTalk does not fit passport-oauth2: the callback carries
 * `authCode` (not `code`), the token endpoint takes camelCase JSON, and tokens travel in
 * `x-acs-dingtalk-access-token` (integration-notes.md). So this is a small Strategy of its own:
 * - no authCode/code/error in the query (and no `callback: true` option): redirect to DingTalk
 *   with a fresh single-use `state`;
 * - a callback: burn `state` FIRST (a forged or replayed callback gets no further), then read
 *   `error` or exchange the code, and succeed with the UpstreamIdentity.
 */
import type { Request } from 'express';
import passport from 'passport';
import { LegStateError, UpstreamError, type LegStore, type UpstreamAuthenticateOptions, type UpstreamIdentity } from '../types.js';
import { dingtalkError } from './messages.js';
import { StoreUnavailableError } from '../../store/types.js';
import { safeCode } from '../fetch-json.js';
import { settle } from '../settle.js';

interface Actions {
  success(user: UpstreamIdentity): void;
  redirect(url: string, status?: number): void;
  error(err: unknown): void;
}

type Outcome = { redirect: string } | { identity: UpstreamIdentity };

export interface StrategyOptions {
  upstream: string;
  legs: LegStore;
  /** `extra`: further authorization parameters; the protocol ones are not overridden. */
  authorizeUrl(state: string, extra: Record<string, string>): string;
  login(authCode: string): Promise<UpstreamIdentity>;
}

const param = (req: Request, name: string): string | undefined => {
  const value = (req.query as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
};

const has = (req: Request, name: string): boolean => (req.query as Record<string, unknown> | undefined)?.[name] !== undefined;

export class DingTalkStrategy extends passport.Strategy {
  constructor(override readonly name: string, private readonly options: StrategyOptions) {
    super();
  }

  override authenticate(req: Request, authOptions: UpstreamAuthenticateOptions = {}): void {
    // passport 0.7 sets success/error/redirect on a strategy *instance* in place for each request:
    // capture this request's actions before any await, or a concurrent request would replace them.
    const self = this as unknown as Actions;
    const actions: Actions = { success: self.success, redirect: self.redirect, error: self.error };
    const callback = authOptions.callback === true || has(req, 'authCode') || has(req, 'code') || has(req, 'error');
    // settle: the actions run outside the promise chain, so a throw in passport's callback is not
    // mistaken for a sign-in failure and reported twice.
    const outcome: Promise<Outcome> = callback ? this.finish(req) : this.start(req, authOptions.authorizationParams);
    settle(outcome, (outcome) => {
      if ('redirect' in outcome) actions.redirect(outcome.redirect);
      else actions.success(outcome.identity);
    }, (err) => {
      // A store outage keeps its own type: the route answers 503, not an upstream error page.
      actions.error(err instanceof UpstreamError || err instanceof LegStateError || err instanceof StoreUnavailableError ? err
        : new UpstreamError(this.options.upstream, 'failed', 'DingTalk sign-in failed', {}, { cause: err }));
    });
  }

  private async start(req: Request, extra: Record<string, string> = {}): Promise<{ redirect: string }> {
    const state = await this.options.legs.begin(req, {});
    return { redirect: this.options.authorizeUrl(state, extra) };
  }

  private async finish(req: Request): Promise<{ identity: UpstreamIdentity }> {
    await this.options.legs.finish(req, param(req, 'state'));
    const error = has(req, 'error') ? param(req, 'error') ?? 'invalid' : undefined;
    if (error !== undefined) throw loginError(this.options.upstream, error);
    // The v1.0 login answers `authCode`; `code` is what older flows and some proxies send.
    const code = param(req, 'authCode') ?? param(req, 'code');
    if (!code) throw dingtalkError(this.options.upstream, 'no_code');
    return { identity: await this.options.login(code) };
  }
}

function loginError(upstream: string, error: string): UpstreamError {
  const shown = safeCode(error) ?? 'invalid';
  const cause = /denied|cancel|reject|refuse/i.test(shown) ? 'denied' : 'login_error';
  return dingtalkError(upstream, cause, { code: shown, params: { error: shown } });
}
