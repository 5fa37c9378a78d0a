import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  findViewsDir,
  interpolate,
  loadMessages,
  localized,
  matchLocale,
  messageKeys,
  negotiateLocale,
  parseAcceptLanguage,
  spaceHanLatin,
} from '../../src/pages/index.js';

describe('locale negotiation', () => {
  it('takes the first supported ui_locales entry over Accept-Language', () => {
    assert.equal(negotiateLocale({ uiLocales: 'fr-FR en-GB zh-CN', acceptLanguage: 'zh-CN', defaultLocale: 'zh-CN' }), 'en');
    assert.equal(negotiateLocale({ uiLocales: 'zh-Hans', acceptLanguage: 'en', defaultLocale: 'en' }), 'zh-CN');
  });

  it('falls back to Accept-Language by q-value, then to the default', () => {
    assert.equal(negotiateLocale({ uiLocales: 'fr', acceptLanguage: 'de;q=1, en;q=0.5, zh-CN;q=0.8', defaultLocale: 'en' }), 'zh-CN');
    assert.equal(negotiateLocale({ acceptLanguage: 'fr, de', defaultLocale: 'zh-CN' }), 'zh-CN');
    assert.equal(negotiateLocale({ acceptLanguage: 'fr, de', defaultLocale: 'en' }), 'en');
    assert.equal(negotiateLocale({ defaultLocale: 'en' }), 'en');
  });

  it('ignores non-string ui_locales (repeated query parameters) and q=0 entries', () => {
    assert.equal(negotiateLocale({ uiLocales: ['en'], acceptLanguage: 'en;q=0, zh', defaultLocale: 'en' }), 'zh-CN');
    assert.deepEqual(parseAcceptLanguage('en;q=0, *, zh-TW;q=0.9, fr'), ['fr', 'zh-TW']);
    assert.deepEqual(parseAcceptLanguage(undefined), []);
  });

  it('maps every Chinese and English variant, nothing else', () => {
    assert.equal(matchLocale('zh-TW'), 'zh-CN');
    assert.equal(matchLocale('ZH_cn'), 'zh-CN');
    assert.equal(matchLocale('en-US'), 'en');
    assert.equal(matchLocale('ja'), undefined);
  });

  it('picks display names per locale with sensible fallbacks', () => {
    const name = { 'zh-CN': '钉钉', en: 'DingTalk' };
    assert.equal(localized(name, 'zh-CN', 'x'), '钉钉');
    assert.equal(localized(name, 'en', 'x'), 'DingTalk');
    assert.equal(localized({ zh: '钉钉', 'en-US': 'DingTalk' }, 'zh-CN', 'x'), '钉钉');
    assert.equal(localized({ fr: 'Le Ding', 'en-GB': 'DingTalk' }, 'zh-CN', 'x'), 'DingTalk');
    assert.equal(localized('Aliyun IDaaS', 'zh-CN', 'x'), 'Aliyun IDaaS');
    assert.equal(localized(undefined, 'en', 'idaas'), 'idaas');
  });
});

describe('messages', () => {
  const dir = join(findViewsDir(), 'locales');
  const tree = (locale: string) => JSON.parse(readFileSync(join(dir, `${locale}.json`), 'utf8')) as Parameters<typeof messageKeys>[0];

  it('has the same keys in zh-CN and en, none empty', () => {
    const zh = messageKeys(tree('zh-CN')).sort();
    const en = messageKeys(tree('en')).sort();
    assert.deepEqual(zh, en);
    const t = loadMessages(dir);
    for (const key of en) {
      assert.notEqual(t.translator('en')(key), key, key);
      assert.notEqual(t.translator('zh-CN')(key).trim(), '', key);
    }
  });

  it('uses the same placeholders in both languages', () => {
    const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    const messages = loadMessages(dir);
    for (const key of messageKeys(tree('en'))) {
      assert.deepEqual(placeholders(messages.translator('zh-CN')(key)), placeholders(messages.translator('en')(key)), key);
    }
  });

  it('interpolates, spaces Han/Latin seams in Chinese, and falls back to the key', () => {
    const messages = loadMessages(dir);
    assert.equal(messages.translator('zh-CN')('chooser.continueWith', { upstream: 'Aliyun IDaaS' }), '使用 Aliyun IDaaS 登录');
    assert.equal(messages.translator('zh-CN')('chooser.continueWith', { upstream: '钉钉' }), '使用钉钉登录');
    assert.equal(messages.translator('en')('chooser.continueWith', { upstream: 'DingTalk' }), 'Continue with DingTalk');
    assert.equal(messages.translator('en')('no.such.key'), 'no.such.key');
    assert.equal(messages.has('hints.notMember'), true);
    assert.equal(messages.has('hints'), false);
    assert.equal(interpolate('{a} and {b}', { a: 'x' }), 'x and {b}');
    assert.equal(spaceHanLatin('用KubeSphere2登录'), '用 KubeSphere2 登录');
  });
});
