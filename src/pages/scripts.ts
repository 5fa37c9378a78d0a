/**
 * The scripts of the one page that runs any: the sign-in inside the DingTalk app
 * (views/dingtalk-in-app.eta). Two files, each at its own versioned URL under the issuer's
 * `/assets/`: the page's own script (views/assets/dingtalk-in-app.js) and the DingTalk JSAPI from the
 * npm package dingtalk-jsapi, never from a CDN. That package ships CommonJS modules only, no
 * browser build, so the modules the page needs (the platform bridges and `requestAuthCode`) are
 * wrapped here into one script, in the manner of browserify's module table: each file becomes a
 * function of (module, exports, require) and `require` resolves through a table of the relative
 * names the file uses. The package's code runs unchanged.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export interface Asset {
  readonly body: string;
  readonly etag: string;
  /** The versioned path the pages link to. */
  readonly href: string;
  readonly contentType: string;
}

export const IN_APP_SCRIPT = 'dingtalk-in-app.js';
export const JSAPI_SCRIPT = 'dingtalk-jsapi.js';

/** What the page needs: the multi-platform entry (iOS, Android, PC, Harmony bridges) and the current requestAuthCode. */
const JSAPI_ENTRIES = ['dingtalk-jsapi/entry/union', 'dingtalk-jsapi/api/union/requestAuthCode'] as const;
/** `require("…")` as a call of its own, not `x.require(…)` (the package's Android bridge calls `nuva.require()`). */
const REQUIRE_CALL = /(?<![\w$.])require\(\s*"([^"]+)"\s*\)/g;

export function asset(name: string, body: string, base: string): Asset {
  const etag = createHash('sha256').update(body).digest('base64url').slice(0, 16);
  return { body, etag, href: `${base}/assets/${name}?v=${etag}`, contentType: 'text/javascript; charset=utf-8' };
}

/** One script that sets `window.dd` to the JSAPI with `dd.requestAuthCode`. */
export function bundleDingTalkJsapi(): string {
  const resolveFromHere = createRequire(import.meta.url);
  const ids = new Map<string, number>();
  const modules: string[] = [];
  const add = (file: string): number => {
    const known = ids.get(file);
    if (known !== undefined) return known;
    const id = ids.size;
    ids.set(file, id);
    const source = readFileSync(file, 'utf8');
    const resolveFromFile = createRequire(file);
    const table: Record<string, number> = {};
    for (const [, name] of source.matchAll(REQUIRE_CALL)) table[name!] ??= add(resolveFromFile.resolve(name!));
    modules[id] = `[function (module, exports, require) {\n${source}\n}, ${JSON.stringify(table)}]`;
    return id;
  };
  const [core, requestAuthCode] = JSAPI_ENTRIES.map((entry) => add(resolveFromHere.resolve(entry)));
  const version = (JSON.parse(readFileSync(resolveFromHere.resolve('dingtalk-jsapi/package.json'), 'utf8')) as { version: string }).version;
  return `/*! dingtalk-jsapi ${version} (MIT) with promise-polyfill (MIT), from their npm packages, wrapped into one script by oidc-bridge */
(function () {
var modules = [
${modules.join(',\n')}
];
var cache = [];
function load(id) {
  if (cache[id]) return cache[id].exports;
  var module = (cache[id] = { exports: {} });
  var table = modules[id][1];
  modules[id][0].call(module.exports, module, module.exports, function (name) {
    if (!(name in table)) throw new Error('dingtalk-jsapi: module not bundled: ' + name);
    return load(table[name]);
  });
  return module.exports;
}
var dd = load(${core});
dd.requestAuthCode = load(${requestAuthCode}).default;
window.dd = dd;
})();
`;
}

/** The page's scripts, read (and the JSAPI wrapped) once, at first use. */
export function createScripts(viewsDir: string, base: string): (name: typeof IN_APP_SCRIPT | typeof JSAPI_SCRIPT) => Asset {
  const built = new Map<string, Asset>();
  return (name) => {
    let found = built.get(name);
    if (!found) {
      const body = name === JSAPI_SCRIPT ? bundleDingTalkJsapi() : readFileSync(join(viewsDir, 'assets', name), 'utf8');
      found = asset(name, body, base);
      built.set(name, found);
    }
    return found;
  };
}
