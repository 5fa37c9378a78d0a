/**
 * The cookies the interaction routes set themselves (leg binding, CSRF nonce): written with
 * express's `res.cookie` and read with `parse` from the `cookie` package, the one express itself
 * serialises them with. There is no global cookie parser: oidc-provider reads its own cookies, and
 * these two are read only where they are used.
 */
import { parse } from 'cookie';
import type { CookieOptions, Request } from 'express';

/** Value of cookie `name` in the request, or undefined (`cookie` leaves an undecodable value as sent). */
export function readCookie(req: Pick<Request, 'headers'>, name: string): string | undefined {
  return parse(req.headers.cookie ?? '')[name];
}

/** HttpOnly always: no script of ours reads these. */
export function cookieOptions(options: {
  path: string;
  secure: boolean;
  sameSite: 'strict' | 'lax';
  maxAgeSeconds?: number;
}): CookieOptions {
  const { maxAgeSeconds, ...rest } = options;
  return { ...rest, httpOnly: true, ...(maxAgeSeconds === undefined ? {} : { maxAge: Math.max(0, Math.floor(maxAgeSeconds)) * 1000 }) };
}
