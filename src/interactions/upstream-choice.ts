/**
 * Which upstream a login prompt goes to (DESIGN "The login, step by step", 1–2): the one the
 * `upstream` parameter names (an unknown or disallowed id is `invalid_request`, never a silent
 * fallback), else the only one the client allows, else the person chooses.
 */
import type { Upstream } from '../upstreams/types.js';
import type { ClientExtras, UpstreamsPort } from './ports.js';

/** The client's upstreams in configured order (its `upstreams` list, default: all). */
export function allowedUpstreams(extras: Pick<ClientExtras, 'upstreams'> | undefined, registry: UpstreamsPort): Upstream[] {
  if (!extras?.upstreams) return registry.all();
  return extras.upstreams.map((id) => registry.get(id)).filter((u): u is Upstream => u !== undefined);
}

export type UpstreamChoice =
  | { kind: 'start'; upstream: Upstream }
  | { kind: 'invalid'; requested: string }
  | { kind: 'choose'; upstreams: Upstream[] }
  | { kind: 'none' };

export function chooseUpstream(requested: unknown, allowed: readonly Upstream[]): UpstreamChoice {
  if (requested !== undefined && requested !== '') {
    const match = typeof requested === 'string' ? allowed.find((u) => u.id === requested) : undefined;
    return match ? { kind: 'start', upstream: match } : { kind: 'invalid', requested: String(requested) };
  }
  if (allowed.length === 0) return { kind: 'none' };
  if (allowed.length === 1) return { kind: 'start', upstream: allowed[0]! };
  return { kind: 'choose', upstreams: [...allowed] };
}
