/**
 * Requests oidc-provider has no route for (an unknown path, or a known one with a method it does
 * not serve, such as `PUT /auth` or `DELETE /token`) would get Koa's plain-text "Not Found". This
 * middleware hands them back to the HTTP layer instead, which answers them like every other
 * unknown path: an OAuth-style JSON error, or a page for browsers (src/server/error-handler.ts,
 * `notFound`). Which method and path pairs exist stays oidc-provider's decision alone.
 */
import type { KoaContextWithOIDC } from 'oidc-provider';

/** The property under which the HTTP layer puts its "not mine" continuation on the request. */
export const UNMATCHED = Symbol.for('oidc-bridge.unmatched');

export type UnmatchedRequest = { [UNMATCHED]?: () => void };

/** provider.use middleware: a response oidc-provider left empty at 404 goes to the request's continuation. */
export async function passUnmatched(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
  await next();
  if (ctx.status !== 404 || ctx.body !== undefined) return;
  const fallthrough = (ctx.req as UnmatchedRequest)[UNMATCHED];
  if (!fallthrough) return;
  // Koa leaves the response alone; the continuation answers it.
  ctx.respond = false;
  fallthrough();
}
