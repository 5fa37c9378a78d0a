/**
 * Page texts, one JSON file per locale in views/locales. Keys are dotted paths
 * (`errors.notAllowed.title`); `{name}` placeholders take parameters. A key missing in one locale
 * falls back to English, then to the key itself, so a forgotten translation never breaks a page.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SUPPORTED_LOCALES, type Locale } from './locale.js';

export type Params = Record<string, string | number | undefined>;
export type Translate = (key: string, params?: Params) => string;

type Tree = { [key: string]: string | Tree };

export interface Messages {
  translator(locale: Locale): Translate;
  /** Whether `key` names a message (upstream hints may be message ids or literal text). */
  has(key: string): boolean;
}

function lookup(tree: Tree, key: string): string | undefined {
  let node: string | Tree | undefined = tree;
  for (const part of key.split('.')) {
    if (typeof node !== 'object' || !Object.hasOwn(node, part)) return undefined;
    node = node[part];
  }
  return typeof node === 'string' ? node : undefined;
}

// Chinese typesetting puts a space between Han characters and Latin letters or digits; names
// (`Aliyun IDaaS`, client ids) arrive as parameters, so fix the seams after interpolation.
const HAN = '\\u3400-\\u4dbf\\u4e00-\\u9fff';
const HAN_LATIN = new RegExp(`([${HAN}])([A-Za-z0-9])`, 'g');
const LATIN_HAN = new RegExp(`([A-Za-z0-9])([${HAN}])`, 'g');
export function spaceHanLatin(text: string): string {
  return text.replace(HAN_LATIN, '$1 $2').replace(LATIN_HAN, '$1 $2');
}

export function interpolate(template: string, params: Params = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    return value === undefined ? whole : String(value);
  });
}

export function loadMessages(localesDir: string): Messages {
  const trees = new Map<Locale, Tree>(
    SUPPORTED_LOCALES.map((locale) => [locale, JSON.parse(readFileSync(join(localesDir, `${locale}.json`), 'utf8')) as Tree]),
  );
  const english = trees.get('en')!;
  return {
    translator(locale) {
      const tree = trees.get(locale) ?? english;
      return (key, params) => {
        const template = lookup(tree, key) ?? lookup(english, key) ?? key;
        const text = interpolate(template, params);
        return locale === 'zh-CN' && params ? spaceHanLatin(text) : text;
      };
    },
    has: (key) => lookup(english, key) !== undefined,
  };
}

/** Every leaf key of a locale file (tests compare the locales). */
export function messageKeys(tree: Tree, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([key, value]) =>
    typeof value === 'string' ? [prefix + key] : messageKeys(value, `${prefix}${key}.`),
  );
}
