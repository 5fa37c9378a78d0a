/**
 * A minimal browser for protocol tests: fetch with a cookie jar (RFC 6265 path matching, expiry)
 * and manual redirects, so a test sees every hop and stops at the relying party's redirect URI.
 */

interface Cookie {
  name: string;
  value: string;
  path: string;
  expiresAt: number;
}

function pathMatches(cookiePath: string, requestPath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

function defaultPath(url: URL): string {
  const { pathname } = url;
  const slash = pathname.lastIndexOf('/');
  return slash <= 0 ? '/' : pathname.slice(0, slash);
}

function parseSetCookie(header: string, url: URL): Cookie {
  const [pair, ...attributes] = header.split(';');
  const eq = pair!.indexOf('=');
  const cookie: Cookie = {
    name: pair!.slice(0, eq).trim(),
    value: pair!.slice(eq + 1).trim(),
    path: defaultPath(url),
    expiresAt: Infinity,
  };
  for (const attribute of attributes) {
    const [rawKey, ...rest] = attribute.split('=');
    const key = rawKey!.trim().toLowerCase();
    const value = rest.join('=').trim();
    if (key === 'path' && value.startsWith('/')) cookie.path = value;
    if (key === 'expires') cookie.expiresAt = Math.min(cookie.expiresAt, Date.parse(value));
    if (key === 'max-age') cookie.expiresAt = Date.now() + Number(value) * 1000;
  }
  return cookie;
}

export interface Hop {
  url: string;
  status: number;
  /** Raw Set-Cookie headers of the response (for attribute checks). */
  setCookies: string[];
}

export class Browser {
  readonly #jar = new Map<string, Cookie>();
  /** Every request this browser made, in order. */
  readonly history: Hop[] = [];

  cookieHeader(url: URL): string {
    const now = Date.now();
    return [...this.#jar.values()]
      .filter((c) => c.expiresAt > now && pathMatches(c.path, url.pathname))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  /** Live cookies as name and path. */
  cookies(): { name: string; path: string }[] {
    const now = Date.now();
    return [...this.#jar.values()].filter((c) => c.expiresAt > now).map(({ name, path }) => ({ name, path }));
  }

  /** One request, no redirect following; stores the cookies it sets. */
  async fetch(target: string | URL, init: RequestInit = {}): Promise<Response> {
    const url = new URL(target);
    const headers = new Headers(init.headers);
    const cookies = this.cookieHeader(url);
    if (cookies) headers.set('cookie', cookies);
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    const setCookies = response.headers.getSetCookie();
    for (const header of setCookies) {
      const cookie = parseSetCookie(header, url);
      this.#jar.set(`${cookie.name}|${cookie.path}`, cookie);
    }
    this.history.push({ url: url.href, status: response.status, setCookies });
    return response;
  }

  /**
   * Follows redirects from `target` until `stopAt` says a Location is the destination (e.g. the
   * client's redirect URI, which is never fetched) or a response is not a redirect.
   */
  async follow(
    target: string | URL,
    stopAt: (url: URL) => boolean,
    init: RequestInit = {},
    /** Maps each Location before it is fetched (e.g. an https issuer served over http in tests). */
    rewrite: (url: URL) => URL = (url) => url,
  ): Promise<{ url: URL; response: Response }> {
    let response = await this.fetch(target, init);
    let url = new URL(target);
    for (let hops = 0; hops < 20; hops += 1) {
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) {
        const submitted = await this.#autoSubmit(response);
        if (!submitted) return { url, response };
        if (stopAt(submitted.url)) return submitted;
        ({ url, response } = submitted);
        continue;
      }
      await response.arrayBuffer();
      url = new URL(location, url);
      if (stopAt(url)) return { url, response };
      url = rewrite(url);
      response = await this.fetch(url);
    }
    throw new Error(`too many redirects: ${this.history.map((h) => `${h.status} ${h.url}`).join(' → ')}`);
  }

  /**
   * oidc-provider's self-submitting form page ("Submitting Callback": e.g. ending the previous
   * session when another account signs in) is posted by a real browser's script at once; do the same.
   */
  async #autoSubmit(response: Response): Promise<{ url: URL; response: Response } | undefined> {
    if (response.status !== 200 || !response.headers.get('content-type')?.includes('text/html')) return undefined;
    const html = await response.clone().text();
    if (!html.includes('<title>Submitting Callback</title>')) return undefined;
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
    if (!action) return undefined;
    const fields = [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g)].map((m): [string, string] => [
      m[1]!,
      m[2]!,
    ]);
    const url = new URL(action.replace(/&amp;/g, '&'));
    const next = await this.fetch(url, {
      method: 'POST',
      body: new URLSearchParams(fields),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    return { url, response: next };
  }
}
