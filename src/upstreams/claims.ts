/**
 * Claim mapping for the oauth2 and oidc upstreams: config paths (`data.sub`) into an
 * UpstreamIdentity. Fails closed on what identifies a person (subject, link key); drops anything
 * else that is malformed instead of passing it on.
 */
import type { ClaimMap } from '../config/schema.js';
import { isObject } from './fetch-json.js';
import { toE164 } from './phone-number.js';
import { UpstreamError, type UpstreamIdentity, type UsernameHint } from './types.js';

/** A claim map whose subject path is known (config value or the type's default). */
export type ResolvedClaimMap = ClaimMap & { subject: string };

export interface IdentityMapping {
  upstream: string;
  linkDomain: string;
  claims: ResolvedClaimMap;
  /** emailVerified when no `emailVerified` path is mapped: true only for an upstream known to verify emails. */
  emailVerifiedDefault: boolean;
}

// OIDC Core 2: "It MUST NOT exceed 255 ASCII characters in length."
const MAX_SUBJECT = 255;

/**
 * The value at a dotted path. A key that itself contains dots (namespaced claims such as
 * `https://example.com/roles`) is matched whole first. Only own properties are read.
 */
export function readClaim(source: unknown, path: string): unknown {
  if (isObject(source) && Object.hasOwn(source, path)) return source[path];
  let value: unknown = source;
  for (const key of path.split('.')) {
    if (Array.isArray(value) && /^\d+$/.test(key)) value = value[Number(key)];
    else if (isObject(value) && Object.hasOwn(value, key)) value = value[key];
    else return undefined;
  }
  return value;
}

/** A string, or a finite number stringified (IDaaS ids may be numbers: 42 → "42"); else undefined. */
export function claimString(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() || undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') return value.toString();
  return undefined;
}

export function mapIdentity(source: Record<string, unknown>, mapping: IdentityMapping): UpstreamIdentity {
  const { upstream, claims } = mapping;
  const read = (path: string | undefined) => (path === undefined ? undefined : readClaim(source, path));
  const subject = claimString(read(claims.subject));
  if (subject === undefined)
    throw new UpstreamError(upstream, 'failed', `identity without subject refused (no value at "${claims.subject}")`, {
      code: 'no_subject',
    });
  if (subject.length > MAX_SUBJECT)
    throw new UpstreamError(upstream, 'failed', 'identity with an over-long subject refused', { code: 'bad_subject' });
  const linkKey = claims.linkKey === undefined ? subject : claimString(read(claims.linkKey));
  if (linkKey === undefined)
    throw new UpstreamError(upstream, 'failed', `identity without link key refused (no value at "${claims.linkKey}")`, {
      code: 'no_link_key',
    });

  const email = emailOf(read(claims.email));
  // What the upstream says about its email wins; when it says nothing, the configured default applies.
  const verifiedClaim = read(claims.emailVerified);
  const emailVerified =
    email === undefined ? undefined : verifiedClaim === undefined ? mapping.emailVerifiedDefault : isTrue(verifiedClaim);
  const username = claimString(read(claims.username));
  return {
    upstream,
    subject,
    linkDomain: mapping.linkDomain,
    linkKey,
    name: claimString(read(claims.name)),
    email,
    emailVerified,
    phoneNumber: toE164(read(claims.phoneNumber)),
    picture: httpUrlOf(read(claims.picture)),
    usernameHints: usernameHints(email, emailVerified === true, username),
    groups: groupsOf(read(claims.groups)),
    extra: {},
  };
}

/** `orgEmail` only for an email the upstream vouches for; `userid` is the upstream's login name. */
function usernameHints(email: string | undefined, emailVerified: boolean, username: string | undefined): UsernameHint[] {
  const hints: UsernameHint[] = [];
  if (email && emailVerified) hints.push({ source: 'orgEmail', value: email });
  if (email) hints.push({ source: 'email', value: email });
  if (username) hints.push({ source: 'userid', value: username });
  return hints;
}

function emailOf(value: unknown): string | undefined {
  const email = claimString(value);
  return email !== undefined && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) ? email : undefined;
}

/** Booleans, and the strings "true"/"false" some upstreams send instead. */
function isTrue(value: unknown): boolean {
  return value === true || (typeof value === 'string' && value.trim().toLowerCase() === 'true');
}

function httpUrlOf(value: unknown): string | undefined {
  const text = claimString(value);
  if (text === undefined || !URL.canParse(text)) return undefined;
  return /^https?:$/.test(new URL(text).protocol) ? text : undefined;
}

/** A single string or an array; other values and non-scalar members are ignored. */
function groupsOf(value: unknown): string[] {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  const groups = list.map(claimString).filter((g): g is string => g !== undefined);
  return [...new Set(groups)];
}
