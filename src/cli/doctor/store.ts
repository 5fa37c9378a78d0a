/**
 * The store: Redis reachable, an eviction policy that can never drop what must last, and a key
 * prefix of its own. What the bridge keeps (src/store/keys.ts): `acct:` durable records (accounts
 * and username claims) without a TTL; everything else (sessions, grants, tokens, upstream-leg
 * state, caches, locks, the indexes that revocation walks) with one.
 *
 * - `noeviction`: safe. A full Redis refuses writes (logins answer 503) and loses nothing.
 * - `volatile-*`: keeps accounts (they have no TTL), but under memory pressure drops sessions,
 *   refresh tokens, locks and revocation indexes: people are signed out early, and an offboarding
 *   can miss tokens whose index was evicted. A warning.
 * - `allkeys-*`: may evict an account or a username claim: the person comes back as a new `sub` (a
 *   new user in every relying party) and their name can be handed to someone else. An error.
 * Policies: https://redis.io/docs/latest/develop/reference/eviction/
 */
import type { Config } from '../../config/schema.js';
import { inspectRedis, storeOptionsOf, type RedisNodeInfo } from '../../store/index.js';
import { error, ok, warning, type CheckContext, type Finding } from './findings.js';
import { explainNetworkError } from './probe.js';

const SUBJECT = 'store';
const POLICY_FIX =
  "Set maxmemory-policy noeviction (redis.conf, `CONFIG SET maxmemory-policy noeviction` plus `CONFIG REWRITE`, or the managed service's parameter), and give Redis enough memory; alert on used_memory near maxmemory.";

export async function checkStore(config: Config, ctx: CheckContext, production: boolean): Promise<Finding[]> {
  const store = config.store;
  if (store.type === 'memory') {
    const text = 'store.type is memory: every replica keeps its own sessions and nothing survives a restart';
    const fix = 'Use store.type: redis (with store.url) for anything but a single development process.';
    return [production ? error('store.type', SUBJECT, text, fix) : warning('store.type', SUBJECT, text, fix)];
  }
  const options = storeOptionsOf(store);
  if (options.type !== 'redis') return [];
  const where = shownUrl(store.url);
  const inspection = await inspectRedis(options, ctx.timeoutMs);
  if (!inspection.reachable) {
    const problem = explainNetworkError(where, inspection.cause, ctx.timeoutMs);
    return [
      error(
        'store.reachable',
        SUBJECT,
        `Redis at ${where} cannot be reached: ${problem.stage === 'network' ? inspection.reason : problem.message.replace(`${where}: `, '')}`,
        `${problem.fix} Check store.url (and its credentials), store.sentinel or store.cluster.`,
      ),
    ];
  }
  return [
    ok('store.reachable', SUBJECT, `Redis at ${where} answers`),
    ...inspection.nodes.map((node) => policyFinding(node, inspection.nodes.length > 1)),
    prefixFinding(store.keyPrefix),
  ];
}

function policyFinding(node: RedisNodeInfo, several: boolean): Finding {
  const subject = several ? `store ${node.node}` : SUBJECT;
  const policy = node.maxmemoryPolicy;
  if (!policy) {
    return warning(
      'store.eviction-policy',
      subject,
      'Redis did not report its maxmemory-policy',
      `Check it yourself: it must be noeviction. ${POLICY_FIX}`,
    );
  }
  if (policy === 'noeviction') return ok('store.eviction-policy', subject, 'maxmemory-policy is noeviction: nothing is ever evicted');
  if (policy.startsWith('volatile-')) {
    return warning(
      'store.eviction-policy',
      subject,
      `maxmemory-policy is ${policy}: accounts (no TTL) stay, but under memory pressure Redis drops sessions, refresh tokens, locks and the indexes revocation walks, so people are signed out early and an offboarding can miss tokens`,
      POLICY_FIX,
    );
  }
  const text = `maxmemory-policy is ${policy}: Redis may evict accounts and username claims, so a person comes back as a new user and their username can go to someone else`;
  if (node.maxmemory === 0) {
    return warning('store.eviction-policy', subject, `${text} (no maxmemory is set yet, so nothing is evicted today)`, POLICY_FIX);
  }
  return error('store.eviction-policy', subject, text, POLICY_FIX);
}

function prefixFinding(prefix: string): Finding {
  if (prefix === '') {
    return warning(
      'store.key-prefix',
      SUBJECT,
      "store.keyPrefix is empty: the bridge's keys mix with every other application's in this Redis",
      'Set store.keyPrefix (default "oidc-bridge:"), one per deployment sharing the Redis. Changing it starts from an empty store: migrate the keys, or do it before going live.',
    );
  }
  if (/[{}]/.test(prefix)) {
    return warning(
      'store.key-prefix',
      SUBJECT,
      `store.keyPrefix "${prefix}" contains a hash tag brace: on Redis Cluster every key would land in one slot`,
      'Use a prefix without { and }.',
    );
  }
  return ok('store.key-prefix', SUBJECT, `keys live under "${prefix}"`);
}

/** The store URL without its password. */
function shownUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.href;
}
