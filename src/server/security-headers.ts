import type { ServerResponse } from 'node:http';

const CSP = "frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/**
 * Headers for every response. Nothing of ours may be framed (clickjacking of the login and consent
 * pages); no URL (codes, state) leaks through Referer; no MIME sniffing. The CSP only restricts
 * framing, plugins and <base>: oidc-provider's form_post response runs an inline script, and the
 * pages set their own script/style policy. Plain node: the dispatcher (src/server/dispatch.ts)
 * sets them on every response, the engine's and express's.
 */
export function securityHeaders(options: { https: boolean }): (res: ServerResponse) => void {
  return (res) => {
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (options.https) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
  };
}
