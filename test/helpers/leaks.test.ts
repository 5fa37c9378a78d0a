// The secret-leak check itself: each form a secret can take in a page, a URL, a header or a log
// line is flagged, and text without the secret is not.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { leakedSecrets, secretForms } from './leaks.js';

// A space, HTML metacharacters, and bytes whose base64 has `+` and `/`: every form differs.
const SECRET = 'sk_live <a&b> "q\'s" ~~~?~>>?';

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

describe('leakedSecrets', () => {
  it('knows every form of this secret as a distinct text', () => {
    const forms = secretForms(SECRET).map((f) => f.form);
    for (const form of ['verbatim', 'url-encoded', 'form-encoded', 'html-escaped', 'base64', 'base64url'] as const) {
      assert.ok(forms.includes(form), `a ${form} form`);
    }
  });

  const embedded: [string, string][] = [
    ['verbatim', `error: ${SECRET} rejected`],
    ['url-encoded', `https://rp.example.test/cb?x=1&code=${encodeURIComponent(SECRET)}&state=s`],
    ['form-encoded', `client_id=web&${new URLSearchParams({ client_secret: SECRET })}`],
    ['html-escaped', `<p class="details">${escapeHtml(SECRET)}</p>`],
    // In a Basic header the secret follows `id:`, at any alignment within the encoded bytes.
    ...['w', 'we', 'web'].map((id): [string, string] => [
      'base64',
      `authorization: Basic ${Buffer.from(`${id}:${SECRET}`).toString('base64')}`,
    ]),
    ...['', 'a', 'ab'].map((lead): [string, string] => [
      'base64url',
      `eyJ.${Buffer.from(`{"k":"${lead}${SECRET}"}`).toString('base64url')}.sig`,
    ]),
  ];
  for (const [form, text] of embedded) {
    it(`flags the ${form} form inside other text (${text.length} characters)`, () => {
      assert.deepEqual(leakedSecrets(text, [SECRET]).length, 1, text);
    });
  }

  it('names the secret by its first characters only, with the form found', () => {
    assert.deepEqual(leakedSecrets(`x=${encodeURIComponent(SECRET)}`, [SECRET]), ['sk_… (url-encoded)']);
  });

  it('flags nothing in text without the secret, nor empty or very short secrets', () => {
    const unrelated = `Basic ${Buffer.from('web:another-secret').toString('base64')} ${encodeURIComponent('sk_live <a&b>')}`;
    assert.deepEqual(leakedSecrets(unrelated, [SECRET, undefined, null, '', 'web']), []);
  });
});
