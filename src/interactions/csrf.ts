/**
 * CSRF tokens for the interaction forms (consent, abort). A random nonce lives in an HttpOnly cookie
 * scoped to `/interaction/<uid>`; the form carries HMAC(cookieSecret, uid ‖ nonce). A cross-site page
 * can neither read the token nor set the cookie, and a token for one interaction is useless for
 * another. Every configured cookie secret verifies, so secrets rotate without breaking open pages.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { cookieOptions, readCookie } from './cookies.js';
import type { Paths } from './paths.js';

export const CSRF_COOKIE = 'oidcb_csrf';
export const CSRF_FIELD = 'csrf';

export interface Csrf {
  /** The token for forms of interaction `uid` in this browser; sets the nonce cookie when needed. */
  issue(req: Request, res: Response, uid: string): string;
  /** Whether `token` is this browser's token for interaction `uid`. */
  verify(req: Request, uid: string, token: unknown): boolean;
}

export interface CsrfOptions {
  secrets: readonly string[];
  paths: Paths;
  ttlSeconds: number;
}

const NONCE = /^[A-Za-z0-9_-]{22,64}$/;

function mac(secret: string, uid: string, nonce: string): Buffer {
  return createHmac('sha256', secret).update(`csrf\0${uid}\0${nonce}`).digest();
}

export function createCsrf({ secrets, paths, ttlSeconds }: CsrfOptions): Csrf {
  const [signing] = secrets;
  if (!signing) throw new Error('CSRF protection needs at least one cookie secret');
  // One nonce per request, even when a page renders several forms.
  const issued = new WeakMap<Request, string>();

  function nonceFor(req: Request, res: Response, uid: string): string {
    const existing = issued.get(req) ?? readCookie(req, CSRF_COOKIE);
    if (existing && NONCE.test(existing)) return existing;
    const nonce = randomBytes(24).toString('base64url');
    // Strict: the forms post from our own pages only.
    res.cookie(
      CSRF_COOKIE,
      nonce,
      cookieOptions({ path: paths.interaction(uid), maxAgeSeconds: ttlSeconds, secure: paths.secure, sameSite: 'strict' }),
    );
    issued.set(req, nonce);
    return nonce;
  }

  return {
    issue(req, res, uid) {
      return mac(signing, uid, nonceFor(req, res, uid)).toString('base64url');
    },
    verify(req, uid, token) {
      const nonce = readCookie(req, CSRF_COOKIE);
      if (typeof token !== 'string' || !nonce || !NONCE.test(nonce)) return false;
      const given = Buffer.from(token, 'base64url');
      return secrets.some((secret) => {
        const expected = mac(secret, uid, nonce);
        return given.length === expected.length && timingSafeEqual(given, expected);
      });
    },
  };
}
