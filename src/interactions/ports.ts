/**
 * What the interaction routes use of their neighbours: the parts of InteractionApi (src/oidc),
 * UpstreamRegistry (src/upstreams) and Accounts (src/accounts) they call, so tests can pass small
 * fakes. Type-only imports: nothing here loads oidc-provider.
 */
import type { Accounts } from '../accounts/types.js';
import type { ClientExtras } from '../oidc/clients.js';
import type { InteractionApi, InteractionView } from '../oidc/interactions-api.js';
import type { UpstreamRegistry } from '../upstreams/registry.js';

export type { ClientExtras, InteractionView };

export type InteractionPort = Pick<InteractionApi, 'get' | 'find' | 'finishLogin' | 'finishConsent' | 'finishError' | 'clientExtras'>;
export type UpstreamsPort = Pick<UpstreamRegistry, 'get' | 'all'>;
export type AccountsPort = Pick<Accounts, 'link' | 'get' | 'markChecked' | 'markLeft'>;

/**
 * InteractionApi's InteractionExpiredError (the page is gone, expired, finished, or another
 * browser's), matched by name so this module needs no runtime import of src/oidc.
 */
export function isInteractionExpired(err: unknown): boolean {
  return err instanceof Error && (err.name === 'InteractionExpiredError' || err.name === 'SessionNotFound');
}
