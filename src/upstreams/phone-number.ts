/**
 * Phone numbers to E.164 (`+8613800000000`), the form the `phone_number` claim promises
 * (OIDC Core 5.1). Upstreams in our deployments are Chinese: a bare 11-digit mobile number
 * (1[3-9]xxxxxxxxx) is taken as +86. Anything that cannot be made E.164 is dropped rather than
 * emitted in a form relying parties would misread.
 */
const E164 = /^\+[1-9]\d{6,14}$/;
const CN_MOBILE = /^1[3-9]\d{9}$/;

export function toE164(raw: unknown): string | undefined {
  if (typeof raw !== 'string' && typeof raw !== 'number') return undefined;
  const compact = String(raw)
    .trim()
    .replace(/[\s\-().]/g, '');
  if (E164.test(compact)) return compact;
  if (/^00/.test(compact) && E164.test(`+${compact.slice(2)}`)) return `+${compact.slice(2)}`;
  if (CN_MOBILE.test(compact)) return `+86${compact}`;
  if (/^86/.test(compact) && CN_MOBILE.test(compact.slice(2))) return `+${compact}`;
  return undefined;
}
