/**
 * What the interaction routes use of their neighbours: the parts of InteractionApi (src/oidc),
 * UpstreamRegistry (src/upstreams), Accounts and Membership (src/accounts) they call, so tests can
 * pass small fakes. Type-only imports: nothing here loads oidc-provider.
 */
import type { Membership } from '../accounts/membership.js';
import type { Accounts } from '../accounts/types.js';
import type { ClientExtras } from '../oidc/clients.js';
import type { InteractionApi } from '../oidc/interactions-api.js';
import type { InteractionView } from '../oidc/interaction-view.js';
import type { UpstreamRegistry } from '../upstreams/registry.js';

export type { ClientExtras, InteractionView };

export type InteractionPort = Pick<InteractionApi, 'get' | 'find' | 'finishLogin' | 'finishConsent' | 'finishError' | 'clientExtras'>;
export type UpstreamsPort = Pick<UpstreamRegistry, 'get' | 'all'>;
export type AccountsPort = Pick<Accounts, 'link' | 'get'>;
/** A reused session's recheck goes through the same check as a refresh. */
export type MembershipPort = Pick<Membership, 'recheckNow'>;
