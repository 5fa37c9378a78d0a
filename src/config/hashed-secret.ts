/**
 * Client secrets given in the config as `sha256:<digest>` instead of the secret itself, so a leaked
 * config file or ConfigMap does not leak the credential (RFC 6819 §5.1.4.1.3,
 * https://www.rfc-editor.org/rfc/rfc6819#section-5.1.4.1.3). A plain, unsalted SHA-256 is enough
 * only because the secret is random and long (32 bytes or more): nobody can guess their way back to
 * it, and a slow password hash would only slow every token request.
 */
import { createHash, randomBytes } from 'node:crypto';

export const HASHED_SECRET_PREFIX = 'sha256:';

/** A hashed secret stands for at least this many random bytes (documented; a digest cannot show it). */
export const MIN_HASHED_SECRET_BYTES = 32;

const HEX = /^[0-9a-f]{64}$/i;
const BASE64URL = /^[A-Za-z0-9_-]{43}$/;

export const isHashedSecret = (value: string): boolean => value.startsWith(HASHED_SECRET_PREFIX);

/** The 32-byte digest of a `sha256:<64 hex | 43 base64url>` value; undefined when it is not one. */
export function hashedSecretDigest(value: string): Buffer | undefined {
  if (!isHashedSecret(value)) return undefined;
  const encoded = value.slice(HASHED_SECRET_PREFIX.length);
  if (HEX.test(encoded)) return Buffer.from(encoded, 'hex');
  if (BASE64URL.test(encoded)) return Buffer.from(encoded, 'base64url');
  return undefined;
}

/** `sha256:<base64url>` of a secret, as the config takes it. */
export function hashSecret(secret: string): string {
  return HASHED_SECRET_PREFIX + createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/** A fresh secret of MIN_HASHED_SECRET_BYTES random bytes (base64url) and its config value. */
export function newHashedSecret(): { secret: string; hashed: string } {
  const secret = randomBytes(MIN_HASHED_SECRET_BYTES).toString('base64url');
  return { secret, hashed: hashSecret(secret) };
}
