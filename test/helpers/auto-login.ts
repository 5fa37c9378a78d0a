/**
 * A test-only interactions router: every login prompt signs in a fixed account and every consent
 * prompt is granted, through the InteractionApi exactly as the real interaction pages do.
 */
import { Router } from 'express';
import type { InteractionApi } from '../../src/oidc/interactions-api.js';

export interface AutoLoginOptions {
  /** The account each login yields; read at login time so a test can switch people. */
  accountId: () => string;
  /** Called with every interaction seen (prompt, reasons), for assertions. */
  onInteraction?: (view: Awaited<ReturnType<InteractionApi['get']>>) => void;
}

export function autoLoginRouter(interactions: InteractionApi, options: AutoLoginOptions): Router {
  const router = Router();
  router.get('/interaction/:uid', async (req, res) => {
    const view = await interactions.get(req, res, req.params.uid);
    options.onInteraction?.(view);
    const next =
      view.prompt === 'login'
        ? await interactions.finishLogin(view.uid, { accountId: options.accountId(), amr: ['test'] })
        : await interactions.finishConsent(view.uid);
    res.redirect(303, next);
  });
  return router;
}
