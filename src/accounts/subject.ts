/**
 * The OIDC `sub` of an account. RPs store it forever (KubeSphere 3.x in the label
 * `iam.kubesphere.io/origin-uid`, kube-apiserver RBAC in `<issuer>#<sub>` user names), so the
 * algorithm below is frozen: changing a single byte of it would turn every person into a stranger.
 *
 * Algorithm (v1, never to change):
 *   input  = "oidc-bridge:sub:v1" ‖ 0x00
 *            ‖ uint32be(byteLength(utf8(linkDomain))) ‖ utf8(linkDomain)
 *            ‖ uint32be(byteLength(utf8(linkKey)))    ‖ utf8(linkKey)
 *   digest = SHA-256(input)                                  (32 bytes)
 *   sub    = RFC 4648 base32 of digest, lowercase, no padding (52 chars of [a-z2-7])
 *
 * The length prefixes keep ("a:b", "c") and ("a", "b:c") apart. Base32 (rather than base64url)
 * never yields '-' or '_' at either end, so every sub is a valid Kubernetes label value
 * (`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`, ≤ 63) and survives case-insensitive systems.
 * @see https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
 */
import { createHash } from 'node:crypto';

const DOMAIN_TAG = 'oidc-bridge:sub:v1\0';
const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** The account `sub` for a link domain and link key (see the algorithm above). */
export function subjectFor(linkDomain: string, linkKey: string): string {
  const hash = createHash('sha256');
  hash.update(DOMAIN_TAG, 'utf8');
  for (const part of [linkDomain, linkKey]) {
    const bytes = Buffer.from(part, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length);
    hash.update(bytes);
  }
  return base32(hash.digest());
}

/** RFC 4648 base32, lowercase, without padding. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET[(buffer >>> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * The upstream's own subject as an account's `sub` (`legacySubject`), when it can be one: printable
 * ASCII without spaces, at most 255 characters (OpenID Connect Core 1.0 §2, `sub`:
 * https://openid.net/specs/openid-connect-core-1_0.html#IDToken). Undefined otherwise; the caller
 * then keeps the derived sub.
 */
export function legacySubjectOf(subject: string): string | undefined {
  return /^[\x21-\x7e]{1,255}$/.test(subject) ? subject : undefined;
}
