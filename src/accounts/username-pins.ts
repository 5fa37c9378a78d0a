/**
 * `usernames.pins`: fixed usernames for named people, keyed `"<linkDomain>:<attribute>:<value>"`,
 * e.g. `"dingtalk:ding0123456789:userid:manager4220": zhangwei`. The link domain is matched whole
 * (tenant included), so a person of another organisation with the same userid never gets the
 * name; it survives renaming the upstream's config id, which is no part of it.
 */
import { BARE_LINK_DOMAIN_TYPES, PIN_KEY } from '../config/schema.js';
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
  linkDomain: string;
  attribute: string;
  value: string;
  username: string;
}

/** Parses the pin map; throws UsernameConfigError naming the key of a malformed entry. */
export function parsePins(pins: Record<string, string>): UsernamePin[] {
  return Object.entries(pins).map(([key, username]) => {
    const match = PIN_KEY.exec(key);
    if (!match) {
      throw new UsernameConfigError(
        `usernames.pins["${key}"]`,
        'expected <linkDomain>:<attribute>:<value> (attribute: userid, unionId, subject, jobNumber or linkKey)',
      );
    }
    const [, linkDomain, attribute, value] = match as unknown as [string, string, string, string];
    if (BARE_LINK_DOMAIN_TYPES.includes(linkDomain)) {
      throw new UsernameConfigError(
        `usernames.pins["${key}"]`,
        `"${linkDomain}" is only the upstream type and matches every tenant: key the pin on the full link domain, e.g. "${linkDomain}:<tenant>:${attribute}:${value}"`,
      );
    }
    return { key, linkDomain, attribute: attribute.toLowerCase(), value, username };
  });
}

/** True when the pin names this person: the same link domain, tenant included, and attribute value. */
export function pinMatches(pin: UsernamePin, identity: UpstreamIdentity): boolean {
  if (identity.linkDomain !== pin.linkDomain) return false;
  const actual = ATTRIBUTES[pin.attribute]!(identity);
  return (typeof actual === 'string' || typeof actual === 'number') && String(actual) === pin.value;
}

/** The pin that names this person, if any (the first in config order). */
export function pinFor(pins: readonly UsernamePin[], identity: UpstreamIdentity): UsernamePin | undefined {
  return pins.find((pin) => pinMatches(pin, identity));
}
