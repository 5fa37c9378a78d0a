/**
 * Answers no upstream should give, for fuzzing the bridge's side of its upstream calls: huge
 * bodies (declared or chunked), JSON of the wrong shape, HTML or text where JSON belongs, wrong
 * content types, truncated and empty bodies, a body that trickles a byte at a time past any
 * timeout, and redirects. `answerHostile` writes one to a node:http response; an HTTP double (or
 * any request listener, `withHostile`) asks a rule which request gets which answer.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import fc from 'fast-check';

export type HostileAnswer =
  /** `bytes` bytes of JSON-looking filler; with `declared` the Content-Length says so up front, else chunked. */
  | { kind: 'huge'; bytes: number; declared: boolean; contentType: string }
  /** A JSON document with whatever shape. */
  | { kind: 'json'; status: number; body: unknown; contentType: string }
  /** Any text (HTML, a truncated JSON document, nothing) under any content type. */
  | { kind: 'text'; status: number; text: string; contentType: string }
  /** Headers at once, then one byte every `everyMs` until the client gives up. */
  | { kind: 'drip'; status: number; everyMs: number; contentType: string }
  | { kind: 'redirect'; status: 301 | 302 | 303 | 307 | 308; location: string };

/** Which request gets which answer; undefined lets the double answer normally. */
export type HostileRule = (req: IncomingMessage, path: string) => HostileAnswer | undefined;

const CHUNK = Buffer.alloc(64 * 1024, '"xxxxxxxxxxxxxxx",');

export function answerHostile(res: ServerResponse, answer: HostileAnswer): void {
  switch (answer.kind) {
    case 'huge': {
      res.writeHead(200, { 'content-type': answer.contentType, ...(answer.declared ? { 'content-length': String(answer.bytes) } : {}) });
      res.write('[');
      let left = answer.bytes - 1;
      // Respects back-pressure and stops when the client hangs up: the double never buffers it all.
      const pump = () => {
        while (left > 0 && !res.destroyed) {
          const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
          left -= piece.length;
          if (!res.write(piece)) return void res.once('drain', pump);
        }
        if (!res.destroyed) res.end();
      };
      res.once('close', () => (left = 0));
      return pump();
    }
    case 'json':
      res.writeHead(answer.status, { 'content-type': answer.contentType });
      return void res.end(JSON.stringify(answer.body) ?? '');
    case 'text':
      res.writeHead(answer.status, { 'content-type': answer.contentType });
      return void res.end(answer.text);
    case 'drip': {
      res.writeHead(answer.status, { 'content-type': answer.contentType });
      res.write('{');
      const timer = setInterval(() => res.write(' '), answer.everyMs);
      res.once('close', () => clearInterval(timer));
      return;
    }
    case 'redirect':
      res.writeHead(answer.status, { location: answer.location, 'content-length': '0' });
      return void res.end();
  }
}

/** A request listener that gives `rule`'s answers and passes every other request to `inner`. */
export function withHostile(inner: RequestListener, rule: () => HostileRule | undefined): RequestListener {
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://double.invalid').pathname;
    const answer = rule()?.(req, path);
    if (!answer) return inner(req, res);
    // The request body is read and dropped, so the client is never stuck sending it.
    req.resume();
    answerHostile(res, answer);
  };
}

/** JSON values of every wrong type, nested a little. */
const garbage: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ maxLength: 20 }),
    fc.constantFrom('', '__proto__', '<script>alert(1)</script>', 'Bearer', '0'),
  ),
  node: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    tie('leaf'),
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 12 }), tie('node'), { maxKeys: 5 }),
  ),
})).node;

/**
 * Objects with the field names upstream answers carry (token responses, userinfo, DingTalk's
 * envelopes and user records, discovery, JWKS), each holding a value of a random type.
 */
const FIELDS = [
  'access_token',
  'token_type',
  'expires_in',
  'refresh_token',
  'id_token',
  'scope',
  'error',
  'error_description',
  'sub',
  'name',
  'email',
  'email_verified',
  'groups',
  'preferred_username',
  'phone_number',
  'success',
  'code',
  'message',
  'data',
  'ou_id',
  'nickname',
  'username',
  'accessToken',
  'expireIn',
  'refreshToken',
  'corpId',
  'unionId',
  'openId',
  'nick',
  'mobile',
  'stateCode',
  'errcode',
  'errmsg',
  'result',
  'userid',
  'dept_id_list',
  'dept_id',
  'parent_id',
  'contact_type',
  'request_id',
  'requestid',
  'issuer',
  'authorization_endpoint',
  'token_endpoint',
  'userinfo_endpoint',
  'jwks_uri',
  'keys',
  'kty',
  'kid',
  'n',
  'e',
  'status',
  'punish',
  'wait',
];
const shaped = fc.dictionary(fc.constantFrom(...FIELDS), garbage, { maxKeys: 8 });

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8'];
const WRONG_TYPES = ['text/html', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'application/jwt', ''];
const contentType = fc.constantFrom(...JSON_TYPES, ...WRONG_TYPES);

/** Error bodies in a 200: OAuth's `{error}`, DingTalk's `errcode`, IDaaS's `success: false`, the anti-crawl block. */
const errorIn200 = fc.oneof(
  fc.record({
    error: fc.constantFrom('invalid_grant', 'invalid_client', 'server_error', 'x'.repeat(100), '<b>'),
    error_description: fc.string({ maxLength: 30 }),
  }),
  fc.record({
    errcode: fc.oneof(fc.constantFrom(-1, 40014, 60011, 60020, 60121, 88, 90018, 33012), fc.integer(), fc.string({ maxLength: 6 })),
    errmsg: fc.string({ maxLength: 30 }),
    request_id: fc.string({ maxLength: 10 }),
  }),
  fc.record({
    code: fc.constantFrom('InvalidAuthentication', 'Forbidden.AccessDenied', 'QpsLimit', ''),
    message: fc.string({ maxLength: 30 }),
  }),
  fc.record({ success: fc.constant(false), code: fc.string({ maxLength: 8 }), message: fc.string({ maxLength: 30 }) }),
  fc.constant({ status: 1111, wait: 5, punish: 'deny' }),
);

/** Well-formed JSON cut short. */
const truncated = fc.tuple(shaped, fc.nat()).map(([value, cut]) => {
  const text = JSON.stringify({ access_token: 'x', ...value });
  return text.slice(0, cut % Math.max(1, text.length - 1));
});

const HTML = '<!doctype html><html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>';

/**
 * Every kind of hostile answer. `dripMs` is the trickle interval (far below the upstream's
 * timeout, so the body never ends before it); `redirectTo` the target of redirects (e.g. an
 * attacker's URL, or the upstream's own endpoint again).
 */
export function hostileAnswers(options: { redirectTo: string[]; hugeBytes: number; dripMs: number }): fc.Arbitrary<HostileAnswer> {
  const status = fc.constantFrom(200, 200, 200, 201, 204, 400, 401, 403, 404, 409, 429, 500, 502, 503);
  return fc.oneof(
    fc.record({
      kind: fc.constant('huge' as const),
      bytes: fc.constantFrom(options.hugeBytes, options.hugeBytes * 2),
      declared: fc.boolean(),
      contentType,
    }),
    fc.record({ kind: fc.constant('json' as const), status, body: fc.oneof(garbage, shaped), contentType }),
    fc.record({ kind: fc.constant('json' as const), status: fc.constant(200), body: errorIn200, contentType }),
    fc.record({
      kind: fc.constant('text' as const),
      status,
      text: fc.oneof(fc.constantFrom(HTML, '', ' ', 'null', '[]', '"x"', '{', 'access_token=x&token_type=bearer'), truncated),
      contentType,
    }),
    fc.record({ kind: fc.constant('drip' as const), status: fc.constantFrom(200, 500), everyMs: fc.constant(options.dripMs), contentType }),
    fc.record({
      kind: fc.constant('redirect' as const),
      status: fc.constantFrom(301, 302, 303, 307, 308),
      location: fc.constantFrom(...options.redirectTo),
    }),
  );
}
