import type { RequestHandler } from 'express';
import { apiErrorForErrcode, sendApiError, sendJson, sendOapiError } from './error-bodies.js';

/**
 * An injected failure for requests to `api` (a path such as '/topapi/user/getbyunionid', or '*'),
 * applied `times` times (default: until clearFaults).
 * - errcode: oapi paths answer HTTP 200 {errcode, errmsg}; api.dingtalk.com paths (/v1.0/…) answer the
 *   v1.0 equivalent (40014 → 400 InvalidAuthentication, 60020 → 403 IpNotInWhiteList,
 *   90002/90018/90019 → 403 QpsLimit…, -1 → 503 ServiceUnavailable, others → 400 with the number as code).
 * - delay: waits `ms`, then answers normally.
 * - http: answers `status` with `body` as JSON, verbatim.
 */
export type SandboxFault =
  | { api: string; kind: 'errcode'; errcode: number; errmsg?: string; times?: number }
  | { api: string; kind: 'delay'; ms: number; times?: number }
  | { api: string; kind: 'http'; status: number; body: unknown; times?: number };

export interface FaultRegistry {
  set(fault: SandboxFault): void;
  clear(): void;
  middleware: RequestHandler;
  /** Cancels pending delays (on close), so no timer outlives the server. */
  cancelDelays(): void;
}

export function createFaultRegistry(): FaultRegistry {
  let faults: { fault: SandboxFault; left: number }[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const take = (path: string): SandboxFault | undefined => {
    const hit = faults.find((f) => f.fault.api === path || f.fault.api === '*');
    if (!hit) return undefined;
    hit.left -= 1;
    if (hit.left <= 0) faults = faults.filter((f) => f !== hit);
    return hit.fault;
  };

  const middleware: RequestHandler = (req, res, next) => {
    const fault = take(req.path);
    if (!fault) return next();
    switch (fault.kind) {
      case 'delay': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          next();
        }, fault.ms);
        timers.add(timer);
        return;
      }
      case 'http':
        return sendJson(res, fault.status, fault.body);
      case 'errcode':
        if (req.path.startsWith('/v1.0/')) {
          const e = apiErrorForErrcode(fault.errcode, fault.errmsg);
          return sendApiError(res, e.status, e.code, e.message);
        }
        return sendOapiError(res, fault.errcode, fault.errmsg);
    }
  };

  return {
    set(fault) {
      if (fault.times !== undefined && fault.times <= 0) return;
      faults.push({ fault, left: fault.times ?? Infinity });
    },
    clear: () => void (faults = []),
    middleware,
    cancelDelays() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
