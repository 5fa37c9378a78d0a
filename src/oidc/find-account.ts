import type { Account as OidcAccount, AccountClaims, FindAccount, KoaContextWithOIDC } from 'oidc-provider';
import type { RecheckOutcome } from '../accounts/membership.js';
import type { Account, ClaimPolicy } from '../accounts/types.js';
import type { Store } from '../store/types.js';
import { claimPolicyOf, type ClientExtras } from './clients.js';
import { TemporarilyUnavailableError, viaProvider } from './errors.js';
import type { RefreshGrace } from './refresh-grace.js';

/**
 * The upstream's verdict on a person at refresh time (docs/architecture.md, "A login, step by
 * step", step 8; the outcomes are src/accounts/membership.ts's). `expired`: the upstream could not
 * answer and the last good check is older than its grace, or an upstream that cannot be asked
 * vouched for the grant's sign-in (`authTime`, epoch seconds) longer ago than `ttl.sessionAbsolute`:
 * this refresh fails, but the person is not treated as gone (nothing else of theirs ends).
 */
export type Recheck = (account: Account, grant: { authTime?: number }) => Promise<RecheckOutcome>;

export interface FindAccountDeps {
  store: Store;
  accounts: { get(sub: string): Promise<Account | undefined> };
  claimsFor: (account: Account, policy: ClaimPolicy) => Record<string, unknown>;
  recheck: Recheck;
  extrasOf: (clientId: string) => ClientExtras | undefined;
  grace: RefreshGrace;
  log: { error(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

function oidcAccount(account: Account, policy: ClaimPolicy, claimsFor: FindAccountDeps['claimsFor']): OidcAccount {
  return {
    accountId: account.sub,
    // Not a claim: the login policy compares it with an `upstream=<id>` request parameter.
    upstream: account.upstream,
    // oidc-provider filters these down to what the granted scopes and `claims` parameter allow.
    claims: (): AccountClaims => ({ ...claimsFor(account, policy), sub: account.sub }),
  };
}

/**
 * oidc-provider's findAccount: called for the code grant, refresh grant, userinfo and each
 * authorization request with a session. An unknown, departed or tombstoned account is
 * `undefined` (the provider answers invalid_grant / invalid_token / a new login). A refresh is
 * also the moment to ask the upstream again (`recheck`), once per winning redemption.
 */
export function createFindAccount(deps: FindAccountDeps): FindAccount {
  async function load(sub: string): Promise<Account | undefined> {
    const account = await viaProvider(() => deps.accounts.get(sub));
    return account?.status === 'active' ? account : undefined;
  }

  async function recheck(account: Account, authTime: number | undefined): Promise<RecheckOutcome> {
    try {
      return await deps.recheck(account, authTime === undefined ? {} : { authTime });
    } catch (err) {
      deps.log.error({ err, sub: account.sub }, 'recheck failed; answering temporarily_unavailable');
      return 'unavailable';
    }
  }

  async function forRefresh(ctx: KoaContextWithOIDC, sub: string, token: { jti: string; consumed?: unknown; authTime?: number }) {
    await deps.grace.claim(ctx, token.jti);
    const account = await load(sub);
    // A reused (already rotated) token: let the provider revoke the grant without asking upstream.
    if (!account || token.consumed) return account;
    switch (await recheck(account, token.authTime)) {
      case 'ok':
        return account;
      case 'revoked': {
        const ended = await viaProvider(() => deps.store.revokeAccount(sub));
        deps.log.info({ sub, ...ended }, 'upstream revoked the account on refresh: grants and sessions ended');
        return undefined;
      }
      case 'expired':
        deps.log.info({ sub }, 'upstream has not confirmed the account recently enough: refresh refused');
        return undefined;
      default:
        // Keep the grant: the person may still be a member once the upstream answers again.
        throw new TemporarilyUnavailableError('the identity source could not confirm the account; retry shortly');
    }
  }

  return async (ctx, sub, token) => {
    const account = token?.kind === 'RefreshToken' ? await forRefresh(ctx, sub, token) : await load(sub);
    if (!account) return undefined;
    const clientId = ctx.oidc?.client?.clientId;
    return oidcAccount(account, claimPolicyOf(clientId ? deps.extrasOf(clientId) : undefined), deps.claimsFor);
  };
}
