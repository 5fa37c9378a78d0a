/**
 * Clients whose config gives `sha256:<digest>` instead of the secret (src/config/hashed-secret.ts)
 * are checked by hashing what they present and comparing digests in constant time.
 *
 * oidc-provider has no configuration option for this; its client authentication
 * (https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/shared/client_auth.js#L237) asks
 * the Client model's public `compareClientSecret`
 * (https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/models/client.js#L543, typed in
 * @types/oidc-provider), and its author names overriding that method on the provider's own Client
 * class as the way to support hashed secrets
 * (https://github.com/panva/node-oidc-provider/issues/631). Every other client keeps the original.
 * The schema refuses a hashed secret wherever oidc-provider would use the secret as a key
 * (client_secret_jwt, HS* signatures), so `client_secret_basic` and `client_secret_post` are the
 * only paths that reach this.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type Provider from 'oidc-provider';
import { hashedSecretDigest } from '../config/hashed-secret.js';

export function compareHashedClientSecrets(provider: Provider): void {
  const prototype = provider.Client.prototype;
  type Compare = (this: typeof prototype, actual: string) => ReturnType<typeof prototype.compareClientSecret>;
  // Taken with its descriptor and called with the client as `this`, as oidc-provider calls it.
  const original = Object.getOwnPropertyDescriptor(prototype, 'compareClientSecret')?.value as Compare;
  prototype.compareClientSecret = function compareClientSecret(this: typeof prototype, actual: string) {
    const expected = this.clientSecret === undefined ? undefined : hashedSecretDigest(this.clientSecret);
    if (expected === undefined) return original.call(this, actual);
    // Both sides are 32-byte SHA-256 digests, so timingSafeEqual never sees unequal lengths.
    const given = createHash('sha256').update(actual, 'utf8').digest();
    return timingSafeEqual(given, expected);
  };
}
