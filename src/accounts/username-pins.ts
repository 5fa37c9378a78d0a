/**
 * `usernames.pins`: fixed usernames for named people, keyed `"<type>:<attribute>:<value>"`, e.g.
 * `"dingtalk:userid:manager4220": zhangwei`. `<type>` is the link domain's prefix before ':'
 * ("dingtalk" for "dingtalk:<corpId>"), so a pin survives renaming the upstream's config id.
 */
import type { UpstreamIdentity } from '../upstreams/types.js';
import { UsernameConfigError } from './errors.js';

/** Which identity value each pin attribute names (attribute names compare case-insensitively). */
const ATTRIBUTES: Record<string, (identity: UpstreamIdentity) => unknown> = {
  userid: (identity) => identity.extra.dingtalk_userid,
  unionid: (identity) => identity.extra.dingtalk_unionid,
  subject: (identity) => identity.subject,
  jobnumber: (identity) => identity.extra.job_number,
  linkkey: (identity) => identity.linkKey,
};

export interface UsernamePin {
  /** The config key, for messages. */
  key: string;
  type: string;
  attribute: string;
  value: string;
  username: string;
}

/** Parses the pin map; throws UsernameConfigError naming the key of a malformed entry. */
export function parsePins(pins: Record<string, string>): UsernamePin[] {
  return Object.entries(pins).map(([key, username]) => {
    const first = key.indexOf(':');
    const second = key.indexOf(':', first + 1);
    const attribute = key.slice(first + 1, second).toLowerCase();
    if (first <= 0 || second <= first + 1 || second === key.length - 1) {
      throw new UsernameConfigError(`usernames.pins["${key}"]`, 'expected <type>:<attribute>:<value>');
    }
    if (!(attribute in ATTRIBUTES)) {
      throw new UsernameConfigError(
        `usernames.pins["${key}"]`,
        `unknown attribute "${key.slice(first + 1, second)}" (expected userid, unionId, subject, jobNumber or linkKey)`,
      );
    }
    return { key, type: key.slice(0, first).toLowerCase(), attribute, value: key.slice(second + 1), username };
  });
}

/** True when the pin names this person. */
export function pinMatches(pin: UsernamePin, identity: UpstreamIdentity): boolean {
  const type = identity.linkDomain.split(':', 1)[0]!.toLowerCase();
  if (type !== pin.type) return false;
  const actual = ATTRIBUTES[pin.attribute]!(identity);
  return (typeof actual === 'string' || typeof actual === 'number') && String(actual) === pin.value;
}

/** The pin that names this person, if any (the first in config order). */
export function pinFor(pins: readonly UsernamePin[], identity: UpstreamIdentity): UsernamePin | undefined {
  return pins.find((pin) => pinMatches(pin, identity));
}
