/**
 * Runs an upstream's passport strategy for one request and reports what it did. The strategy is
 * shared by concurrent requests; src/upstreams/connector-strategy.ts makes that safe.
 */
import type { Request, RequestHandler, Response } from 'express';
import passport from 'passport';
import type { Strategy } from 'passport';

export type StrategyResult =
  | { kind: 'success'; user: unknown }
  | { kind: 'fail'; info: unknown; status?: number }
  | { kind: 'error'; err: unknown }
  /** The strategy answered itself (a redirect to the upstream). */
  | { kind: 'responded' };

const authenticator = new passport.Authenticator();

/**
 * `callback: true` on the callback route: a request there is always a callback, even with no
 * code, state or error, so the strategy refuses it (LegStateError) instead of starting a new leg.
 * `callback: false` where a leg starts: a `state` or `code` someone put in that URL is ignored.
 */
export function runStrategy(
  strategy: Strategy,
  req: Request,
  res: Response,
  /** `authorizationParams`: extra parameters of the upstream authorization request (e.g. `prompt`). */
  options: { callback?: boolean; authorizationParams?: Record<string, string> } = {},
): Promise<StrategyResult> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: StrategyResult) => {
      if (settled) return;
      settled = true;
      res.off('finish', responded);
      res.off('close', responded);
      resolve(result);
    };
    const responded = () => settle({ kind: 'responded' });
    res.once('finish', responded);
    res.once('close', responded);
    const middleware = authenticator.authenticate(
      strategy,
      { session: false, ...options },
      (err: unknown, user: unknown, info: unknown, status: unknown) => {
        if (err) settle({ kind: 'error', err });
        else if (user) settle({ kind: 'success', user });
        else settle({ kind: 'fail', info, status: typeof status === 'number' ? status : undefined });
      },
    ) as RequestHandler;
    try {
      // `pass()` and `next(err)` land here; a strategy never should pass on these routes.
      middleware(req, res, (err?: unknown) => settle(err ? { kind: 'error', err } : { kind: 'fail', info: undefined }));
    } catch (err) {
      settle({ kind: 'error', err });
    }
  });
}
