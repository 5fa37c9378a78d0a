import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { requestContext } from '../log.js';

/** An id a proxy may hand us; anything else (too long, odd characters) is replaced, never logged. */
const SAFE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Gives a request its id (the proxy's `X-Request-Id` when it is safe, else a fresh UUID), sets it
 * as `req.id` (the interaction pages read it there) and echoes it in the response. Plain node, so
 * the dispatcher (src/server/dispatch.ts) runs it for the engine's routes without express.
 */
export function assignRequestId(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
  (req as IncomingMessage & { id?: string }).id = id;
  res.setHeader('X-Request-Id', id);
  return id;
}

/**
 * The same as express middleware, running the rest of the request inside the log context, so
 * every log line it causes carries `reqId` and matches the reference number an error page shows.
 */
export function requestIds() {
  return (req: Request, res: Response, next: NextFunction) => {
    requestContext.run({ reqId: assignRequestId(req, res) }, next);
  };
}
