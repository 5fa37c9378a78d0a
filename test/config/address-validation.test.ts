// Config keys that hold addresses the bridge later hands to a library: each mistake is a config
// error with its path when the file is loaded (`check`, `serve`, `doctor`), never a crash when the
// server starts or a refusal when a client first signs in.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import proxyaddr from 'proxy-addr';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const base = {
  issuer: 'https://sso.example.test',
  cookieSecrets: ['x'.repeat(32)],
  upstreams: [{ id: 'u', type: 'oidc', issuer: 'https://idp.example.test', clientId: 'c' }],
  clients: [{ client_id: 'app', client_secret: 's', redirect_uris: ['https://app.example.test/cb'] }],
};

/** The problems loading `patch` over the base config reports, one line each. */
function problems(patch: Record<string, unknown>): string[] {
  try {
    parseConfig(JSON.stringify({ ...base, ...patch }), {});
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message.split('\n').filter((line) => line.trim().startsWith('- '));
  }
}

describe('redirect URIs in config', () => {
  it('accepts absolute URLs: https, loopback http on any port, a native app scheme', () => {
    const client = (uris: string[]) => [{ client_id: 'app', client_secret: 's', redirect_uris: uris }];
    assert.deepEqual(
      problems({ clients: client(['https://app.example.test/cb?x=1', 'http://127.0.0.1:8000', 'com.example.app:/cb']) }),
      [],
    );
  });

  for (const [label, uri, message] of [
    ['not an absolute URL', '/cb', /must be an absolute URL/],
    ['a wildcard', 'https://*.example.test/cb', /never as a pattern/],
    ['a fragment', 'https://app.example.test/cb#x', /fragment/],
  ] as const) {
    it(`refuses ${label}, naming the client and the URI's path`, () => {
      const found = problems({ clients: [{ client_id: 'app', client_secret: 's', redirect_uris: ['https://ok.example.test/cb', uri] }] });
      assert.equal(found.length, 1, found.join('\n'));
      assert.match(found[0]!, /clients\[0\]\.redirect_uris\[1\]/);
      assert.match(found[0]!, message);
    });
  }

  it('holds post-logout redirect URIs to the same rules', () => {
    const found = problems({
      clients: [
        {
          client_id: 'app',
          client_secret: 's',
          redirect_uris: ['https://app.example.test/cb'],
          post_logout_redirect_uris: ['https://*.example.test/'],
        },
      ],
    });
    assert.match(found.join('\n'), /clients\[0\]\.post_logout_redirect_uris\[0\].*never as a pattern/);
  });
});

describe('trustProxy.cidrs in config', () => {
  const accepted = ['10.0.0.0/8', '192.0.2.1', 'fd00::/8', '::1', '172.16.0.0/255.240.0.0', 'loopback', 'linklocal', 'uniquelocal'];
  const refused = [
    'ingress-nginx',
    '10.0.0.0/33',
    'fd00::/129',
    '10.0.0.0/255.0.255.0',
    '10.0.0.0/',
    'fd00::/ffff::',
    '0.0.0.0/0',
    '::/0',
    '10.0.0.0/0.0.0.0',
  ];

  it("accepts what express's trust proxy accepts: addresses, ranges, netmasks and its names", () => {
    assert.deepEqual(problems({ trustProxy: { cidrs: accepted } }), []);
  });

  it("refuses what express's trust proxy would crash on at start-up, each with the entry's path", () => {
    const found = problems({ trustProxy: { cidrs: ['10.0.0.0/8', ...refused] } });
    assert.equal(found.length, refused.length, found.join('\n'));
    refused.forEach((_, i) =>
      assert.match(found[i]!, new RegExp(`trustProxy\\.cidrs\\[${i + 1}\\].*expected an IP address, a CIDR range`)),
    );
  });

  it('agrees with proxy-addr, which express compiles the setting with', () => {
    for (const entry of accepted) assert.doesNotThrow(() => proxyaddr.compile(entry), entry);
    for (const entry of refused) assert.throws(() => proxyaddr.compile(entry), Error, entry);
  });
});
