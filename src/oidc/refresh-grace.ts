import { createHash } from 'node:crypto';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Records } from '../store/types.js';
import { TemporarilyUnavailableError, viaProvider } from './errors.js';

/** A token endpoint answer as the winner sent it. Holds tokens: kept only for the grace window. */
interface Reply {
  status: number;
  body: unknown;
  /** What the winner asked for (`requestOf`); a loser asking for something else is refused. */
  request?: string;
}

/** Thrown for a loser that adopts the winner's reply; the middleware swaps in that reply. */
class AdoptedReply extends errors.InvalidGrant {
  constructor() {
    // If the swap were ever skipped the client still gets a correct refusal.
    super('refresh token redeemed by a concurrent request');
  }
}

const POLL_MS = 25;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const hashOf = (tokenId: string) => createHash('sha256').update(tokenId).digest('base64url');

const sortedWords = (value: unknown): string[] => {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return [...new Set(list.flatMap((v) => String(v).split(' ')).filter(Boolean))].sort();
};

/**
 * The parts of a refresh request that shape its tokens (RFC 6749 §6 `scope`, RFC 8707 `resource`),
 * order-free: two redemptions asking for the same thing get the same fingerprint.
 */
const requestOf = (ctx: KoaContextWithOIDC): string => {
  const params = (ctx.oidc.params ?? {}) as Record<string, unknown>;
  // No `scope` asks for the token's own (RFC 6749 §6), the same as naming it.
  const scope = params.scope ?? ctx.oidc.entities.RefreshToken?.scope;
  return JSON.stringify([sortedWords(scope), sortedWords(params.resource)]);
};

/**
 * One winner per refresh token (docs/architecture.md, "Decisions": the refresh grace window). The
 * first redemption claims `rt:<sha256(token)>` for the client's grace window (`graceSecondsOf`:
 * its own `refreshGraceSeconds`, else the global one); concurrent ones within that
 * window wait for the winner's reply (`rtres:<hash>`, same TTL) and answer with it, so a client
 * that retried or raced itself gets the rotated token instead of losing its grant. After the
 * window the claim is gone: a reuse then runs through oidc-provider, which revokes the grant of a
 * rotated token.
 *
 * The claim is taken from `findAccount`, the first hook the refresh grant calls after client
 * authentication and the token's client, expiry and grant checks: a loser has proven it is the
 * same client before it can see the winner's tokens. Anyone holding a stolen copy of a rotated
 * token and that client's credentials (none, for a public client) gets the winner's tokens within
 * the window too: the window is the client's trade-off between retries and that (docs/security.md,
 * "Sessions and refresh tokens").
 */
export function createRefreshGrace(records: Records, graceSecondsOf: (clientId: string | undefined) => number) {
  const winners = new WeakMap<object, { hash: string; graceSeconds: number }>();
  const adopted = new WeakMap<object, Reply>();

  async function waitForReply(hash: string, graceSeconds: number): Promise<Reply | undefined> {
    const claimedAt = (await records.get<number>(`rt:${hash}`)) ?? Date.now();
    const deadline = claimedAt + graceSeconds * 1000;
    for (;;) {
      const reply = await records.get<Reply>(`rtres:${hash}`);
      if (reply) return reply;
      if (Date.now() >= deadline) return undefined;
      await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
    }
  }

  return {
    /** In findAccount for a refresh: returns for the winner, throws for a loser. */
    async claim(ctx: KoaContextWithOIDC, tokenId: string): Promise<void> {
      const graceSeconds = graceSecondsOf(ctx.oidc.client?.clientId);
      if (graceSeconds <= 0) return;
      const hash = hashOf(tokenId);
      if (await viaProvider(() => records.add(`rt:${hash}`, Date.now(), graceSeconds))) {
        winners.set(ctx, { hash, graceSeconds });
        return;
      }
      const reply = await viaProvider(() => waitForReply(hash, graceSeconds));
      if (!reply) throw new TemporarilyUnavailableError('a concurrent redemption of this refresh token has not finished; retry shortly');
      // The winner's tokens answer the winner's request: a narrower scope must not get them.
      if (reply.request !== undefined && reply.request !== requestOf(ctx)) {
        throw new errors.InvalidGrant('refresh token already redeemed by a request for another scope or resource');
      }
      adopted.set(ctx, reply);
      throw new AdoptedReply();
    },

    /** provider.use middleware: publishes the winner's reply, swaps it in for losers. */
    middleware: async (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> => {
      await next();
      const winner = winners.get(ctx);
      if (winner) await publish(ctx, winner.hash, winner.graceSeconds);
      const reply = adopted.get(ctx);
      if (reply) {
        ctx.status = reply.status;
        ctx.body = reply.body;
      }
    },
  };

  async function publish(ctx: KoaContextWithOIDC, hash: string, graceSeconds: number): Promise<void> {
    try {
      await records.set<Reply>(`rtres:${hash}`, { status: ctx.status, body: ctx.body, request: requestOf(ctx) }, graceSeconds);
      // A refusal consumed nothing (or already revoked the grant): let the next attempt run afresh.
      if (ctx.status !== 200) await records.delete(`rt:${hash}`);
    } catch {
      // Store down: the winner still gets its answer; waiting losers time out with a 503.
    }
  }
}

export type RefreshGrace = ReturnType<typeof createRefreshGrace>;
