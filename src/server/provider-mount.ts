import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { ProviderBundle } from '../oidc/provider.js';
import { UNMATCHED, type UnmatchedRequest } from '../oidc/unmatched.js';
import { PUBLISHED_PATHS, publishedBodies, type PublishedBodies } from './published-bodies.js';

interface Mounted {
  callback: ReturnType<ProviderBundle['provider']['callback']>;
  bodies: PublishedBodies;
}

export interface ProviderHolder {
  swap(bundle: ProviderBundle): void;
  /**
   * The engine for a request whose `url` is already relative to the issuer's path (`originalUrl`
   * the full one, as express leaves them for a mounted handler), from `clientAddress` (the address
   * `trust proxy` trusted). Discovery and the JWKS come from src/server/published-bodies.ts.
   */
  forward: (
    req: IncomingMessage & { originalUrl?: string },
    res: ServerResponse,
    clientAddress: string | undefined,
    unmatched?: () => void,
  ) => void;
  /** The same, as the last express handler (paths the dispatcher does not route to the engine itself). */
  handle: (req: Request, res: Response, next: NextFunction) => void;
}

/**
 * The mounted provider, swappable at run time (new signing keys mean a new oidc-provider
 * instance): requests in flight finish on the instance they started on, new ones use the new one.
 */
export function providerHolder(initial: ProviderBundle, issuer: string): ProviderHolder {
  const scheme = new URL(issuer).protocol.slice(0, -1);
  let mounted = prepare(initial);

  function prepare(bundle: ProviderBundle): Mounted {
    // Koa reads scheme and client address from X-Forwarded-* only with `proxy`; `forward` rewrites
    // those headers from the `trust proxy` decision first.
    bundle.provider.proxy = true;
    return { callback: bundle.provider.callback(), bodies: publishedBodies() };
  }

  /**
   * The issuer's scheme is the scheme browsers use (TLS ends in front of us when it is https), so
   * secure cookies are set consistently; the client address is the trusted one, never a spoofable
   * header; the host comes from the request's Host, never X-Forwarded-Host.
   */
  function forward(
    req: IncomingMessage & { originalUrl?: string },
    res: ServerResponse,
    clientAddress: string | undefined,
    unmatched?: () => void,
  ): void {
    const current = mounted;
    // What oidc-provider has no route for (e.g. `PUT /auth`) goes to `unmatched` (src/oidc/unmatched.ts).
    if (unmatched) (req as UnmatchedRequest)[UNMATCHED] = unmatched;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (PUBLISHED_PATHS.has(path) && current.bodies.serve(req, res, path)) return;
    req.headers['x-forwarded-proto'] = scheme;
    if (clientAddress) req.headers['x-forwarded-for'] = clientAddress;
    else delete req.headers['x-forwarded-for'];
    delete req.headers['x-forwarded-host'];
    void current.callback(req, res);
  }

  return {
    swap(bundle) {
      mounted = prepare(bundle);
    },
    forward,
    handle: (req, res, next) => forward(req, res, req.ip, () => next()),
  };
}
