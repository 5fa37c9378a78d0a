import type { JWK } from 'oidc-provider';
import type { Config } from '../config/schema.js';

const SIGNED_RESPONSE_KEYS = ['id_token_signed_response_alg', 'userinfo_signed_response_alg', 'introspection_signed_response_alg'] as const;

function keyCanSign(key: JWK, alg: string): boolean {
  if (key.alg) return key.alg === alg;
  if (alg.startsWith('RS') || alg.startsWith('PS')) return key.kty === 'RSA';
  if (alg === 'ES256') return key.kty === 'EC' && key.crv === 'P-256';
  return false;
}

/**
 * oidc-provider accepts a client registered for an algorithm no key can sign with and then fails
 * every sign-in with a 500. Refuse at start-up instead, naming the client and what is missing.
 */
export function assertClientAlgsSignable(config: Config, jwks: { keys: JWK[] }): void {
  const available = [...new Set(jwks.keys.map((k) => k.alg ?? k.kty))].join(', ') || 'none';
  for (const client of config.clients) {
    for (const key of SIGNED_RESPONSE_KEYS) {
      const alg = client[key];
      if (alg && !jwks.keys.some((k) => keyCanSign(k, alg))) {
        throw new Error(`client "${client.client_id}": ${key} ${alg} needs a ${alg} signing key, but the keys are: ${available}`);
      }
    }
  }
}
