/**
 * Response headers of every page the bridge renders. Pages load nothing but our own stylesheet
 * (no script at all, but for the DingTalk in-app sign-in's own files, by nonce), cannot be framed (clickjacking a consent button), leak no URL to the next
 * site, and are never cached (they carry CSRF tokens and personal names).
 *
 * `form-action` also lists the client's redirect origins: browsers apply it to the whole redirect
 * chain a form submission starts (our 303 → /auth/<uid> → 303 to the client), so 'self' alone
 * would stop a consent or a sign-out at the last hop.
 * @see https://www.w3.org/TR/CSP3/#directive-form-action
 */
import type { Response } from 'express';

export interface RedirectingClient {
  redirect_uris?: readonly string[];
  post_logout_redirect_uris?: readonly string[];
}

const LOOPBACK = new Set(['localhost', '127.0.0.1']);
const SCHEME = /^[a-z][a-z0-9+.-]*$/;

/** The CSP source expression admitting redirects to `uri`, or undefined when none can. */
export function formActionSource(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme === 'http' || scheme === 'https') {
    // RFC 8252 7.3: native clients on a loopback address may use any port.
    return scheme === 'http' && LOOPBACK.has(url.hostname) ? `http://${url.hostname}:*` : url.origin;
  }
  // Private-use URI schemes of native apps (RFC 8252 7.1), e.g. com.example.app:/cb.
  return SCHEME.test(scheme) && scheme !== 'javascript' && scheme !== 'data' ? `${scheme}:` : undefined;
}

/** form-action sources for the redirects a client's flows end in. */
export function clientFormActions(client: RedirectingClient | undefined): string[] {
  if (!client) return [];
  const uris = [...(client.redirect_uris ?? []), ...(client.post_logout_redirect_uris ?? [])];
  return [...new Set(uris.map(formActionSource).filter((s): s is string => s !== undefined))].sort();
}

export interface PageHeaderOptions {
  /**
   * The one page with scripts (the DingTalk in-app sign-in) runs exactly the script tags carrying
   * this per-response nonce: its own files, never inline code.
   */
  scriptNonce?: string;
}

export function pageHeaders(formActions: readonly string[] = [], options: PageHeaderOptions = {}): Record<string, string> {
  const formAction = ["'self'", ...formActions].join(' ');
  const scripts = options.scriptNonce ? `; script-src 'nonce-${options.scriptNonce}'` : '';
  return {
    'Content-Security-Policy': `default-src 'none'${scripts}; style-src 'self'; img-src 'self' data:; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  };
}

export function applyPageHeaders(res: Response, formActions: readonly string[] = [], options: PageHeaderOptions = {}): void {
  for (const [name, value] of Object.entries(pageHeaders(formActions, options))) res.setHeader(name, value);
}
