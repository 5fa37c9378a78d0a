/**
 * Records whose values are encrypted before they reach the store: upstream credentials the bridge
 * caches (the DingTalk app token) must not be readable by whoever can read Redis or its backups.
 *
 * Each value is a JWE (RFC 7516) in compact form, `dir` with A256GCM
 * (https://www.rfc-editor.org/rfc/rfc7518#section-5.3), whose `kid` names the key. Keys come from
 * `store.encryptionKeys`: the first encrypts, all decrypt, so a key is rotated by putting the new one
 * first and removing the old one once every record written with it has expired. A configured key is
 * any string of 32+ characters; HKDF-SHA256 (RFC 5869) turns it into the 256-bit AES key, and the
 * `kid` is a digest of that key, so it names the key without revealing it.
 *
 * A value stored in the clear (written before a key was configured) is still read, and reported
 * stale, as is one sealed with a key that no longer comes first: the caller rewrites it with the TTL
 * it knows. A value that cannot be opened (its key was removed or changed) is a SealedRecordError.
 */
import { createHash, hkdfSync } from 'node:crypto';
import { compactDecrypt, CompactEncrypt, decodeProtectedHeader } from 'jose';
import type { Records } from './types.js';

export class SealedRecordError extends Error {
  override name = 'SealedRecordError';
}

/** What a read found: the value, and whether it should be written again under the current key. */
export interface Opened<T> {
  value: T;
  stale: boolean;
}

export interface SealedRecords {
  /** Whether values are written encrypted (a key is configured). */
  readonly encrypts: boolean;
  /** Rejects with SealedRecordError when the value is sealed with a key that is not configured or does not fit. */
  get<T>(key: string): Promise<Opened<T> | undefined>;
  set<T>(key: string, value: T, ttlSeconds?: number): Promise<void>;
  delete(key: string): Promise<void>;
}

interface Envelope {
  jwe: string;
}

interface SealingKey {
  kid: string;
  key: Uint8Array;
}

const HKDF_INFO = 'oidc-bridge store.encryptionKeys A256GCM';
const decoder = new TextDecoder();
const encoder = new TextEncoder();

function sealingKey(secret: string): SealingKey {
  const key = new Uint8Array(hkdfSync('sha256', secret, new Uint8Array(0), HKDF_INFO, 32));
  return { kid: createHash('sha256').update(key).digest('base64url').slice(0, 16), key };
}

const isEnvelope = (value: unknown): value is Envelope =>
  typeof value === 'object' && value !== null && typeof (value as Partial<Envelope>).jwe === 'string' && Object.keys(value).length === 1;

/** `records` with every value sealed under `secrets[0]`; with no secrets, values pass in the clear. */
export function sealRecords(records: Pick<Records, 'get' | 'set' | 'delete'>, secrets: readonly string[]): SealedRecords {
  const keys = secrets.map(sealingKey);
  const current = keys[0];

  async function open<T>(envelope: Envelope): Promise<Opened<T>> {
    let kid: unknown;
    try {
      kid = decodeProtectedHeader(envelope.jwe).kid;
    } catch (err) {
      throw new SealedRecordError('a sealed record is malformed', { cause: err });
    }
    const match = keys.find((k) => k.kid === kid);
    if (!match) {
      throw new SealedRecordError(
        `a sealed record was encrypted with key ${String(kid)}, which is not among store.encryptionKeys (removed or changed?)`,
      );
    }
    try {
      const { plaintext } = await compactDecrypt(envelope.jwe, match.key, {
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
      });
      return { value: JSON.parse(decoder.decode(plaintext)) as T, stale: match !== current };
    } catch (err) {
      throw new SealedRecordError(`a sealed record does not decrypt with key ${match.kid}`, { cause: err });
    }
  }

  return {
    encrypts: current !== undefined,
    async get<T>(key: string) {
      const stored = await records.get<unknown>(key);
      if (stored === undefined) return undefined;
      if (isEnvelope(stored)) return open<T>(stored);
      return { value: stored as T, stale: current !== undefined };
    },
    async set<T>(key: string, value: T, ttlSeconds?: number) {
      if (!current) return records.set(key, value, ttlSeconds);
      const jwe = await new CompactEncrypt(encoder.encode(JSON.stringify(value)))
        .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: current.kid })
        .encrypt(current.key);
      return records.set<Envelope>(key, { jwe }, ttlSeconds);
    },
    delete: (key) => records.delete(key),
  };
}
