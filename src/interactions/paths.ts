/**
 * URLs of the interaction routes. The issuer may have a path (docs/architecture.md, "Decisions"),
 * and every route, upstream callbacks included, lives under it: the router is mounted there, links
 * carry it.
 */
export interface Paths {
  /** The issuer's path without a trailing slash ('' for a bare host). */
  readonly base: string;
  /** Whether cookies get `Secure` (the issuer is https). */
  readonly secure: boolean;
  interaction(uid: string): string;
  upstreamStart(uid: string, upstreamId: string): string;
  /** Where the in-app sign-in page posts its code. */
  inAppSignIn(uid: string, upstreamId: string): string;
  consent(uid: string): string;
  abort(uid: string): string;
  /** Path of the upstream callback (cookie scope). */
  callbackPath(upstreamId: string): string;
  /** Absolute callback URL, registered at the upstream: one fixed URL per upstream. */
  callbackUrl(upstreamId: string): string;
}

export function createPaths(issuer: string): Paths {
  const url = new URL(issuer);
  const base = url.pathname.replace(/\/+$/, '');
  const origin = url.origin;
  const seg = encodeURIComponent;
  return {
    base,
    secure: url.protocol === 'https:',
    interaction: (uid) => `${base}/interaction/${seg(uid)}`,
    upstreamStart: (uid, id) => `${base}/interaction/${seg(uid)}/upstream/${seg(id)}`,
    inAppSignIn: (uid, id) => `${base}/interaction/${seg(uid)}/upstream/${seg(id)}/in-app`,
    consent: (uid) => `${base}/interaction/${seg(uid)}/consent`,
    abort: (uid) => `${base}/interaction/${seg(uid)}/abort`,
    callbackPath: (id) => `${base}/upstream/${seg(id)}/callback`,
    callbackUrl: (id) => `${origin}${base}/upstream/${seg(id)}/callback`,
  };
}
