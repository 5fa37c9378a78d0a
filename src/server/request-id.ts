import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { requestContext } from '../log.js';

/** An id a proxy may hand us; anything else (too long, odd characters) is replaced, never logged. */
const SAFE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Gives each request an id (the proxy's `X-Request-Id` when it is safe, else a fresh UUID), echoes
 * it in the response, and runs the request inside the log context, so every log line it causes
 * carries `reqId` and matches the reference number an error page shows (the interaction pages read
 * it as `req.id`; this is the only place that decides it).
 */
export function requestIds() {
  return (req: Request, res: Response, next: NextFunction) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
    (req as Request & { id?: string }).id = id;
    res.setHeader('X-Request-Id', id);
    requestContext.run({ reqId: id }, next);
  };
}
