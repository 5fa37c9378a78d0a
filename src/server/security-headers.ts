import type { NextFunction, Request, Response } from 'express';

/**
 * Headers for every response. Nothing of ours may be framed (clickjacking of the login and consent
 * pages); no URL (codes, state) leaks through Referer; no MIME sniffing. The CSP only restricts
 * framing, plugins and <base>: oidc-provider's form_post response runs an inline script, and the
 * pages set their own script/style policy.
 */
export function securityHeaders(options: { https: boolean }) {
  return (_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Content-Security-Policy', "frame-ancestors 'none'; base-uri 'none'; object-src 'none'");
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (options.https) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
    next();
  };
}
