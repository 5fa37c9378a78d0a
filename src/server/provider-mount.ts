import type { NextFunction, Request, Response } from 'express';
import type { ProviderBundle } from '../oidc/provider.js';
import { UNMATCHED, type UnmatchedRequest } from '../oidc/unmatched.js';

/**
 * The mounted provider, swappable at run time (new signing keys mean a new oidc-provider
 * instance): requests in flight finish on the instance they started on, new ones use the new one.
 */
export function providerHolder(initial: ProviderBundle, issuer: string) {
  const scheme = new URL(issuer).protocol.slice(0, -1);
  let callback = prepare(initial);

  function prepare(bundle: ProviderBundle) {
    // Koa reads scheme and client address from X-Forwarded-* only with `proxy`; the handler below
    // rewrites those headers from express's own trust decision first.
    bundle.provider.proxy = true;
    return bundle.provider.callback();
  }

  return {
    swap(bundle: ProviderBundle) {
      callback = prepare(bundle);
    },
    /**
     * The issuer's scheme is the scheme browsers use (TLS ends in front of us when it is https), so
     * secure cookies are set consistently; the client address is the one express trusted
     * (`trust proxy`), never a spoofable header; the host comes from the issuer, not the request.
     */
    handle: (req: Request, res: Response, next: NextFunction) => {
      // What oidc-provider has no route for goes on to the app's not-found answer (src/oidc/unmatched.ts).
      (req as UnmatchedRequest)[UNMATCHED] = () => next();
      req.headers['x-forwarded-proto'] = scheme;
      if (req.ip) req.headers['x-forwarded-for'] = req.ip;
      else delete req.headers['x-forwarded-for'];
      delete req.headers['x-forwarded-host'];
      return callback(req, res);
    },
  };
}
