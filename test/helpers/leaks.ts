/**
 * Finding secrets (client secrets, cookie keys, upstream codes, tokens) in text a person or an
 * operator sees: pages, log lines, metrics. A secret rarely leaks verbatim only: it travels
 * URL-encoded in a query or form, base64 or base64url encoded inside a Basic header or a token,
 * HTML-escaped in a page. Each of those forms is looked for.
 */
import assert from 'node:assert/strict';

/** Shorter secrets are not looked for (they would match by chance); so are shorter base64 fragments. */
const MIN_LENGTH = 6;
const MIN_FRAGMENT = 8;

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/**
 * The characters every base64 (or base64url) encoding of any data containing `secret` contains,
 * for each of the three alignments the secret can have within the data: encode it behind 0, 1 or
 * 2 filler bytes and keep only the characters that depend on the secret's bytes alone.
 */
function base64Fragments(secret: string, encoding: 'base64' | 'base64url'): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  return [0, 1, 2]
    .map((shift) => {
      const data = Buffer.concat([Buffer.alloc(shift), bytes]);
      const whole = Math.floor(data.length / 3) * 4;
      return data.toString(encoding).slice(shift === 0 ? 0 : 4, whole);
    })
    .filter((fragment) => fragment.length >= MIN_FRAGMENT);
}

export type SecretForm = 'verbatim' | 'url-encoded' | 'form-encoded' | 'base64' | 'base64url' | 'html-escaped';

/** How `secret` may appear in text, form by form (forms equal to the verbatim one are left out). */
export function secretForms(secret: string): { form: SecretForm; text: string }[] {
  const forms: { form: SecretForm; text: string }[] = [
    { form: 'verbatim', text: secret },
    { form: 'url-encoded', text: encodeURIComponent(secret) },
    { form: 'form-encoded', text: new URLSearchParams({ s: secret }).toString().slice(2) },
    { form: 'html-escaped', text: escapeHtml(secret) },
    ...base64Fragments(secret, 'base64').map((text) => ({ form: 'base64' as const, text })),
    ...base64Fragments(secret, 'base64url').map((text) => ({ form: 'base64url' as const, text })),
  ];
  return forms.filter((f, i) => f.form === 'verbatim' || (f.text !== secret && forms.findIndex((g) => g.text === f.text) === i));
}

/** Which of `secrets` occur in `text` in any form, e.g. `['sec… (base64)']` (a secret shown by its first characters only). */
export function leakedSecrets(text: string, secrets: readonly (string | null | undefined)[]): string[] {
  const found: string[] = [];
  for (const secret of secrets) {
    if (!secret || secret.length < MIN_LENGTH) continue;
    const hit = secretForms(secret).find((f) => text.includes(f.text));
    if (hit) found.push(`${secret.slice(0, 3)}… (${hit.form})`);
  }
  return found;
}

/** Fails when any of `secrets` occurs in `text` in any form. */
export function assertNoSecrets(text: string, secrets: readonly (string | null | undefined)[], where = 'the text'): void {
  assert.deepEqual(leakedSecrets(text, secrets), [], `${where} leaks no secret`);
}
