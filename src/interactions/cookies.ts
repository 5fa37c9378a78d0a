/**
 * The cookies the interaction routes set themselves (leg binding, CSRF nonce), written with
 * express's `res.cookie`. Reading is this one function rather than a global cookie parser
 * (cookie-parser is not a dependency): oidc-provider reads its own cookies, and these two are read
 * only where they are used.
 */
import type { CookieOptions, Request } from 'express';

/** Value of cookie `name` in the request, or undefined; a malformed header yields nothing. */
export function readCookie(req: Pick<Request, 'headers'>, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** HttpOnly always: no script of ours reads these. */
export function cookieOptions(options: { path: string; secure: boolean; sameSite: 'strict' | 'lax'; maxAgeSeconds?: number }): CookieOptions {
  const { maxAgeSeconds, ...rest } = options;
  return { ...rest, httpOnly: true, ...(maxAgeSeconds === undefined ? {} : { maxAge: Math.max(0, Math.floor(maxAgeSeconds)) * 1000 }) };
}
