import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import express, { type Request, type Response } from 'express';
import { createCsrf, CSRF_COOKIE } from '../../src/interactions/csrf.js';
import { createPaths } from '../../src/interactions/paths.js';

const SECRET_A = 'a'.repeat(32);
const SECRET_B = 'b'.repeat(32);

/** Just enough of express's req/res: the Cookie header in, Set-Cookie out (through express's own res.cookie). */
function exchange(cookie?: string) {
  const setCookies: string[] = [];
  const req = { headers: cookie ? { cookie } : {} } as unknown as Request;
  const res = Object.assign(Object.create(express.response) as Response, {
    req,
    append: (_name: string, value: string) => setCookies.push(value),
  });
  return { req, res, setCookies };
}

/** The browser's next request, carrying the nonce cookie the page set. */
function nextRequest(setCookie: string): Request {
  return exchange(setCookie.split(';')[0]).req;
}

describe('CSRF tokens', () => {
  const csrf = createCsrf({ secrets: [SECRET_A], paths: createPaths('https://sso.example.test/base'), ttlSeconds: 600 });

  it('sets a Strict, HttpOnly nonce cookie scoped to the interaction and accepts the matching token', () => {
    const page = exchange();
    const token = csrf.issue(page.req, page.res, 'uid-1');
    assert.equal(page.setCookies.length, 1);
    assert.match(
      page.setCookies[0]!,
      new RegExp(
        `^${CSRF_COOKIE}=[A-Za-z0-9_-]{32}; Max-Age=600; Path=/base/interaction/uid-1; Expires=[^;]+; HttpOnly; Secure; SameSite=Strict$`,
      ),
    );
    assert.equal(csrf.verify(nextRequest(page.setCookies[0]!), 'uid-1', token), true);
  });

  it('issues one nonce per page, reusing the browser’s cookie', () => {
    const page = exchange();
    const first = csrf.issue(page.req, page.res, 'uid-1');
    const second = csrf.issue(page.req, page.res, 'uid-1');
    assert.equal(first, second);
    assert.equal(page.setCookies.length, 1);
    const again = exchange(page.setCookies[0]!.split(';')[0]);
    assert.equal(csrf.issue(again.req, again.res, 'uid-1'), first);
    assert.equal(again.setCookies.length, 0);
  });

  it('refuses a token of another interaction, a missing cookie, a forged or absent token', () => {
    const page = exchange();
    const token = csrf.issue(page.req, page.res, 'uid-1');
    const req = nextRequest(page.setCookies[0]!);
    assert.equal(csrf.verify(req, 'uid-2', token), false);
    assert.equal(csrf.verify(exchange().req, 'uid-1', token), false);
    assert.equal(csrf.verify(req, 'uid-1', `${token.slice(0, -2)}AA`), false);
    assert.equal(csrf.verify(req, 'uid-1', undefined), false);
    assert.equal(csrf.verify(req, 'uid-1', [token]), false);
    assert.equal(csrf.verify(req, 'uid-1', ''), false);
  });

  it('refuses a token made for another browser’s nonce', () => {
    const mine = exchange();
    const theirs = exchange();
    csrf.issue(mine.req, mine.res, 'uid-1');
    const theirToken = csrf.issue(theirs.req, theirs.res, 'uid-1');
    assert.equal(csrf.verify(nextRequest(mine.setCookies[0]!), 'uid-1', theirToken), false);
  });

  it('keeps tokens signed with an older secret valid after rotation', () => {
    const old = createCsrf({ secrets: [SECRET_A], paths: createPaths('https://sso.example.test'), ttlSeconds: 600 });
    const rotated = createCsrf({ secrets: [SECRET_B, SECRET_A], paths: createPaths('https://sso.example.test'), ttlSeconds: 600 });
    const retired = createCsrf({ secrets: [SECRET_B], paths: createPaths('https://sso.example.test'), ttlSeconds: 600 });
    const page = exchange();
    const token = old.issue(page.req, page.res, 'uid-1');
    const req = nextRequest(page.setCookies[0]!);
    assert.equal(rotated.verify(req, 'uid-1', token), true);
    assert.equal(retired.verify(req, 'uid-1', token), false);
  });
});
