import type { ClientMetadata } from 'oidc-provider';
import type { ClaimPolicy } from '../accounts/types.js';
import type { ClientConfig, Config } from '../config/schema.js';

/** Our per-client keys (config.example.yaml, `clients`), which oidc-provider would drop silently. */
export interface ClientExtras {
  /** First-party: the bridge answers the consent prompt itself (also for prompt=consent). */
  skipConsent: boolean;
  /** Upstream ids this client offers; undefined means all. */
  upstreams?: string[];
  emitEmail: 'verified' | 'any' | 'never';
  groups?: { prefix: string; allow?: string[]; max: number };
  /** May introspect tokens of every client, not only its own. */
  resourceServer: boolean;
  /** PKCE required although the client is confidential (public clients always need it). */
  requirePkce: boolean;
  clientName?: string;
  /** Overrides the global refresh grace window for this client (src/oidc/refresh-grace.ts). */
  refreshGraceSeconds?: number;
}

const EXTRA_KEYS = ['skipConsent', 'upstreams', 'emitEmail', 'groups', 'resourceServer', 'refreshGraceSeconds', 'requirePkce'] as const;

/** The client as oidc-provider must see it: standard metadata only. */
export function clientMetadataOf(client: ClientConfig): ClientMetadata {
  const metadata: Record<string, unknown> = { ...client };
  for (const key of EXTRA_KEYS) delete metadata[key];
  for (const [key, value] of Object.entries(metadata)) if (value === undefined) delete metadata[key];
  // oidc-provider adds the authorization_code grant to a client with response type code (its
  // default): a client configured without that grant (device-only, client_credentials) has no
  // response types, and no redirect URIs unless it lists some.
  if (client.grant_types && !client.grant_types.includes('authorization_code')) {
    metadata.response_types = [];
    metadata.redirect_uris ??= [];
  }
  return metadata as ClientMetadata;
}

function extrasOf(client: ClientConfig): ClientExtras {
  const extras: ClientExtras = {
    skipConsent: client.skipConsent,
    emitEmail: client.emitEmail,
    resourceServer: client.resourceServer,
    requirePkce: client.requirePkce,
  };
  if (client.upstreams) extras.upstreams = [...client.upstreams];
  if (client.groups) extras.groups = { ...client.groups };
  if (client.client_name) extras.clientName = client.client_name;
  if (client.refreshGraceSeconds !== undefined) extras.refreshGraceSeconds = client.refreshGraceSeconds;
  return extras;
}

/** client_id → extras, kept beside the provider (a side map rather than extraClientMetadata validators). */
export function clientExtrasMap(config: Config): ReadonlyMap<string, ClientExtras> {
  return new Map(config.clients.map((client) => [client.client_id, extrasOf(client)]));
}

/** Claim shaping for tokens issued to a client; unknown clients get the strictest shape. */
export function claimPolicyOf(extras: ClientExtras | undefined): ClaimPolicy {
  if (!extras) return { emitEmail: 'verified' };
  return extras.groups ? { emitEmail: extras.emitEmail, groups: extras.groups } : { emitEmail: extras.emitEmail };
}

/**
 * Upstream ids a client may use, in its order: its own list, else every configured upstream. The
 * `upstream` parameter is checked against it, and the login prompt offers these.
 */
export function allowedUpstreams(config: Pick<Config, 'upstreams'>, extras: Pick<ClientExtras, 'upstreams'> | undefined): string[] {
  return extras?.upstreams ?? config.upstreams.map((u) => u.id);
}
