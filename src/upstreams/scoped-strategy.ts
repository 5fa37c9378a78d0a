/**
 * The strategy object every upstream hands out. Two reasons for the indirection:
 *
 * - passport 0.7 augments a strategy *instance* passed to `passport.authenticate(strategy, …)`
 *   in place (lib/middleware/authenticate.js: only named strategies get `Object.create`), so two
 *   concurrent requests would overwrite each other's `success`/`error`. Here the actions are
 *   captured synchronously when `authenticate` starts and the inner strategy runs on a fresh
 *   per-request object.
 * - Some strategies can only be built after asynchronous work (OIDC discovery) or need a retry
 *   of a failed start-up step: `load` runs first, and its failure becomes `error(UpstreamError)`.
 */
import type { Request } from 'express';
import passport from 'passport';
import { UpstreamError } from './types.js';

export interface StrategyActions {
  success(user: unknown, info?: unknown): void;
  fail(challenge?: unknown, status?: number): void;
  redirect(url: string, status?: number): void;
  pass(): void;
  error(err: unknown): void;
}

interface Authenticating {
  authenticate(req: Request, options?: unknown): unknown;
}

export class ScopedStrategy extends passport.Strategy {
  constructor(
    override readonly name: string,
    private readonly load: () => passport.Strategy | Promise<passport.Strategy>,
  ) {
    super();
  }

  override authenticate(req: Request, options?: unknown): void {
    const self = this as unknown as StrategyActions;
    const actions: StrategyActions = {
      success: self.success, fail: self.fail, redirect: self.redirect, pass: self.pass, error: self.error,
    };
    Promise.resolve().then(this.load).then((inner) => {
      const scoped = Object.assign(Object.create(inner) as Authenticating, actions);
      scoped.authenticate(req, options);
    }).catch((err: unknown) => {
      actions.error(err instanceof UpstreamError ? err
        : new UpstreamError(this.name, 'failed', 'upstream strategy failed', {}, { cause: err }));
    });
  }
}
