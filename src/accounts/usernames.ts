/**
 * preferred_username policy (docs/architecture.md, "Accounts and claims"): lowercase DNS-1123, ≤ 32
 * characters, never reserved. KubeSphere names its User custom resource after it (a DNS-1123
 * subdomain) and its login-confirm form caps it at 32; 4.x attaches a login to an existing User of
 * the same name, so names must be unique and never reused.
 * This file only proposes names; accounts.ts claims them atomically in the store.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as PinyinProModule from 'pinyin-pro';
import {
  DEFAULT_RESERVED_USERNAMES,
  usernamePrefixOf,
  vouchesForUsernames,
  type Config,
  type UpstreamConfig,
  type UsernameCandidate,
} from '../config/schema.js';
import type { UpstreamIdentity } from '../upstreams/types.js';
import { UsernameConfigError } from './errors.js';
import { base32 } from './subject.js';
import { parsePins, pinMatches, type UsernamePin } from './username-pins.js';

type PinyinPro = typeof PinyinProModule;
let pinyinPro: PinyinPro | undefined;
/**
 * pinyin-pro builds its dictionaries when it is loaded, megabytes of heap that most processes
 * never use (only a new account's username needs them): loaded on the first Han name instead of at
 * start-up (bench/RESULTS.md, "Memory"). Its CommonJS build, so the first use stays synchronous.
 */
function pinyin(): PinyinPro['pinyin'] {
  pinyinPro ??= createRequire(import.meta.url)('pinyin-pro') as PinyinPro;
  return pinyinPro.pinyin;
}

export const USERNAME_MAX_LENGTH = 32;
export const USERNAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export type UsernamesConfig = Config['usernames'];

/** The `usernames` config, parsed and checked once. */
export interface UsernamePolicy {
  readonly candidates: readonly UsernameCandidate[];
  /** Built-in and configured reserved names. */
  readonly reserved: ReadonlySet<string>;
  readonly pins: readonly UsernamePin[];
  /** Every pinned username: given to its pinned person only. */
  readonly pinned: ReadonlySet<string>;
  /**
   * Upstreams that do not vouch for the names they give (config's `vouchesForUsernames`), by id →
   * the prefix their people's usernames carry (`idaas-`). Nobody else's name may begin with one.
   */
  readonly unvouched: ReadonlyMap<string, string>;
}

/** The upstreams that do not vouch for usernames, id → the prefix their people's names carry. */
export function unvouchedUpstreamsOf(upstreams: readonly UpstreamConfig[]): Map<string, string> {
  return new Map(upstreams.filter((u) => !vouchesForUsernames(u)).map((u) => [u.id, usernamePrefixOf(u)]));
}

/** Builds the policy; throws UsernameConfigError for pins that cannot work. */
export function usernamePolicy(config: UsernamesConfig, unvouched: ReadonlyMap<string, string> = new Map()): UsernamePolicy {
  const reserved = new Set([...DEFAULT_RESERVED_USERNAMES, ...config.reserved].map((r) => r.toLowerCase()));
  const pins = parsePins(config.pins);
  const pinned = new Set<string>();
  for (const pin of pins) {
    const path = `usernames.pins["${pin.key}"]`;
    if (!isValidUsername(pin.username))
      throw new UsernameConfigError(
        path,
        `"${pin.username}" is not a valid username (lowercase DNS-1123, at most ${USERNAME_MAX_LENGTH} characters)`,
      );
    if (reserved.has(pin.username)) throw new UsernameConfigError(path, `"${pin.username}" is a reserved username`);
    if (pinned.has(pin.username)) throw new UsernameConfigError(path, `"${pin.username}" is pinned twice`);
    pinned.add(pin.username);
  }
  return { candidates: config.candidates, reserved, pins, pinned, unvouched };
}

export function isValidUsername(name: string): boolean {
  return name.length <= USERNAME_MAX_LENGTH && USERNAME_PATTERN.test(name);
}

/** Why `name` cannot be given to this person (undefined when it can). */
export function usernameProblem(name: string, policy: UsernamePolicy, identity?: UpstreamIdentity): string | undefined {
  if (!isValidUsername(name))
    return `expected lowercase letters, digits, '-' and '.' (DNS-1123), at most ${USERNAME_MAX_LENGTH} characters`;
  if (policy.reserved.has(name)) return 'reserved';
  for (const [upstream, prefix] of policy.unvouched) {
    if (name.startsWith(prefix) && identity?.upstream !== upstream) return `"${prefix}" names are kept for people of upstream ${upstream}`;
  }
  if (policy.pinned.has(name) && !policy.pins.some((p) => p.username === name && identity && pinMatches(p, identity))) {
    return 'pinned to someone else in usernames.pins';
  }
  return undefined;
}

/** Latin letters without accents, lowercase: "José Müller" → "jose muller", "Straße" → "strasse". */
export function asciiFold(text: string): string {
  return text
    .normalize('NFKD')
    .toLowerCase()
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[ßæœøđłþðı]/g, (c) => ({ ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', đ: 'd', ł: 'l', þ: 'th', ð: 'd', ı: 'i' })[c] ?? c);
}

/** Best-effort lowercase DNS-1123 form of any text, cut to 32; undefined when nothing is left. */
export function normaliseUsername(raw: string): string | undefined {
  const cleaned = asciiFold(raw)
    .replace(/[^a-z0-9.]+/g, '-')
    // A run of separators holding a dot becomes that dot, so no label starts or ends with '-'.
    .replace(/[-.]*\.[-.]*/g, '.')
    .replace(/^[-.]+|[-.]+$/g, '');
  const cut = cleaned.slice(0, USERNAME_MAX_LENGTH).replace(/[-.]+$/, '');
  return cut === '' ? undefined : cut;
}

/** Pinyin of Han characters (surname readings first: 曾 zeng, 单 shan), other text folded; no spaces. */
export function pinyinOf(name: string): string {
  const syllables = /\p{Script=Han}/u.test(name)
    ? pinyin()(name, { toneType: 'none', type: 'array', nonZh: 'consecutive', surname: 'head', v: true })
    : [name];
  return syllables.map((s) => asciiFold(s).replace(/\s+/g, '')).join('');
}

/** The `hash` candidate: `u-` and 8 base32 characters derived from the sub. Stable forever. */
export function hashUsername(sub: string): string {
  return `u-${base32(createHash('sha256').update(`oidc-bridge:username:v1\0${sub}`).digest()).slice(0, 8)}`;
}

/** `base` with a numeric suffix, cut to fit 32: wangfang → wangfang2; 1001 → 1001-2 (digits stay readable). */
export function suffixedUsername(base: string, n: number): string {
  const digits = String(n);
  const stem = (room: number) => base.slice(0, room).replace(/[-.]+$/, '');
  const whole = stem(USERNAME_MAX_LENGTH - digits.length);
  if (!/[0-9]$/.test(whole)) return whole + digits;
  const shorter = stem(USERNAME_MAX_LENGTH - digits.length - 1);
  return /[0-9]$/.test(shorter) ? `${shorter}-${digits}` : shorter + digits;
}

/** Raw candidate texts of one configured source, in hint order. */
function rawCandidates(source: UsernameCandidate, identity: UpstreamIdentity, sub: string): string[] {
  if (source === 'hash') return [hashUsername(sub)];
  const hints = identity.usernameHints.filter((h) => h.source === source).map((h) => h.value);
  if (source === 'pinyin') return hints.length > 0 ? hints.map(pinyinOf) : identity.name ? [pinyinOf(identity.name)] : [];
  if (source === 'orgEmail' || source === 'email') return hints.map((email) => romanise(localPart(email)));
  return hints.map(romanise);
}

function localPart(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 0 ? email : email.slice(0, at);
}

function romanise(text: string): string {
  return /\p{Script=Han}/u.test(text) ? pinyin()(text, { toneType: 'none', type: 'array', nonZh: 'consecutive', v: true }).join('') : text;
}

/** What a new person may be called: the names to try in order, then the stem for numeric suffixes. */
export interface UsernameCandidates {
  /** Valid, not reserved, not pinned to someone else; in the configured order, without duplicates. */
  names: string[];
  /** Suffixed (wangfang2, wangfang3 …) when every name is taken: the first name, else a name pinned to someone else. */
  suffixBase: string;
}

/**
 * The candidates of a new person. When no source yields anything usable, the `hash` name is used
 * even if `hash` is not configured, so every person gets a name; a namesake of a pinned person
 * (only the pinned name to go on) gets the pinned name with a suffix rather than a hash.
 */
export function usernameCandidates(identity: UpstreamIdentity, sub: string, policy: UsernamePolicy): UsernameCandidates {
  // An upstream that does not vouch for its names: everything its people are called carries its prefix.
  const prefix = policy.unvouched.get(identity.upstream) ?? '';
  const names = new Set<string>();
  let pinnedToOther: string | undefined;
  for (const source of policy.candidates) {
    for (const raw of rawCandidates(source, identity, sub)) {
      const plain = normaliseUsername(raw);
      const name = plain === undefined ? undefined : normaliseUsername(prefix + plain);
      if (name === undefined || policy.reserved.has(name)) continue;
      if (usernameProblem(name, policy, identity) === undefined) names.add(name);
      else if (policy.pinned.has(name)) pinnedToOther ??= name;
    }
  }
  const first = [...names][0] ?? pinnedToOther;
  if (first === undefined) {
    const hashed = normaliseUsername(prefix + hashUsername(sub))!;
    return { names: [hashed], suffixBase: hashed };
  }
  return { names: [...names], suffixBase: first };
}
