/**
 * The few cookies the interaction routes set themselves (leg binding, CSRF nonce). No global
 * cookie parser: oidc-provider reads its own cookies, and these are read only where they are used.
 */
import type { Request, Response } from 'express';

/** Value of cookie `name` in the request, or undefined; a malformed header yields nothing. */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    try {
      return decodeURIComponent(raw);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export interface CookieOptions {
  path: string;
  maxAgeSeconds: number;
  secure: boolean;
  sameSite: 'Strict' | 'Lax';
}

/** Appends a Set-Cookie header (HttpOnly always: no script of ours reads these). */
export function setCookie(res: Response, name: string, value: string, options: CookieOptions): void {
  const parts = [
    `${name}=${encodeURIComponent(value)}`,
    `Path=${options.path}`,
    `Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`,
    'HttpOnly',
    `SameSite=${options.sameSite}`,
  ];
  if (options.secure) parts.push('Secure');
  res.append('Set-Cookie', parts.join('; '));
}

export function clearCookie(res: Response, name: string, options: Omit<CookieOptions, 'maxAgeSeconds'>): void {
  setCookie(res, name, '', { ...options, maxAgeSeconds: 0 });
}
