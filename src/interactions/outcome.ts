/**
 * How an upstream failure reaches the person (STYLE §4): upstreams say what went wrong
 * (UpstreamError.reason), this module picks the answer. A cancelled sign-in goes back to the client
 * as the OAuth error it expects; everything else is a page, because the client could do nothing
 * useful with it and the person needs to know whom to ask.
 */
import type { UpstreamError } from '../upstreams/types.js';

export type ErrorView = 'errors/not-allowed' | 'errors/ask-your-admin' | 'errors/upstream-failed';

export type Outcome =
  | { readonly error: 'access_denied'; readonly error_description: string }
  | { readonly view: ErrorView; readonly status: 403 | 502 };

export function outcomeFor(err: Pick<UpstreamError, 'reason'>): Outcome {
  switch (err.reason) {
    case 'denied': return { error: 'access_denied', error_description: 'sign-in cancelled' } as const;
    case 'not_allowed': return { view: 'errors/not-allowed', status: 403 } as const;
    case 'misconfigured': return { view: 'errors/ask-your-admin', status: 502 } as const;
    default: return { view: 'errors/upstream-failed', status: 502 } as const;
  }
}
