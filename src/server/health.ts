import { Router } from 'express';

/**
 * `/healthz`: the process answers. `/readyz`: it should get traffic: config and keys are loaded
 * (they are, or the app would not exist) and it is not shutting down. Store health is
 * deliberately not part of it (docs/architecture.md, "Failure behaviour"): every replica shares the store, so
 * pulling them all out of the Service would only add an outage to the store's.
 */
export function healthRouter(isShuttingDown: () => boolean): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  router.get('/readyz', (_req, res) => {
    res.set('Cache-Control', 'no-store');
    if (isShuttingDown()) res.status(503).json({ status: 'shutting_down' });
    else res.json({ status: 'ready' });
  });
  return router;
}
