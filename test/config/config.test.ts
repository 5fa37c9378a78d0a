import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, loadConfig, resolveConfigPath, configWarnings, ConfigError, productionConfigErrors } from '../../src/config/load.js';

const exampleEnv = {
  COOKIE_SECRET: 'c'.repeat(40),
  DINGTALK_CLIENT_ID: 'dingappkey',
  DINGTALK_CLIENT_SECRET: 'dingsecret',
  IDAAS_CLIENT_ID: 'idaas',
  IDAAS_CLIENT_SECRET: 'idaas-secret',
  EIAM_CLIENT_ID: 'eiam',
  EIAM_CLIENT_SECRET: 'eiam-secret',
  KUBESPHERE_CLIENT_SECRET: 'ks-secret',
  STORE_KEY: 'k'.repeat(44),
};

const minimal = `
issuer: https://sso.example.com
cookieSecrets: ["${'s'.repeat(32)}"]
upstreams:
  - { id: dingtalk, type: dingtalk, clientId: key, clientSecret: secret, corpId: ding1 }
clients:
  - { client_id: app, client_secret: shh, redirect_uris: [https://app.example.com/cb] }
`;

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(text, env, 'test.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the config to be rejected');
}

describe('config', () => {
  it('accepts config.example.yaml, which documents every key', () => {
    const config = parseConfig(readFileSync('config.example.yaml', 'utf8'), exampleEnv, 'config.example.yaml');
    assert.equal(config.issuer, 'https://sso.example.com');
    assert.deepEqual(
      config.upstreams.map((u) => u.type),
      ['dingtalk', 'oauth2', 'oidc'],
    );
    assert.equal(config.keys.rotationLead, 3600);
    assert.equal(config.ttl.refreshToken, 30 * 86400);
    assert.equal(config.store.type, 'redis');
    assert.deepEqual(config.usernames.pins, { 'dingtalk:ding0123456789:userid:manager4220': 'zhangwei' });
    const kubectl = config.clients.find((c) => c.client_id === 'kubectl');
    assert.deepEqual(kubectl?.groups, { prefix: '', max: 50 });
    assert.deepEqual(config.rateLimits.authorization, { points: 6000, duration: 60 });
    assert.deepEqual(config.shutdown, { drainDelay: 5 });
  });

  it('accepts the Kubernetes base config (deploy/base/config.yaml)', () => {
    const config = parseConfig(readFileSync('deploy/base/config.yaml', 'utf8'), exampleEnv, 'deploy/base/config.yaml');
    assert.equal(config.keys.dir, '/app/keys');
    assert.deepEqual(config.store.encryptionKeys, ['k'.repeat(44)]);
  });

  it('fills documented defaults', () => {
    const config = parseConfig(minimal, {});
    assert.deepEqual(config.listen, { host: '0.0.0.0', port: 8080 });
    assert.equal(config.store.type, 'memory');
    assert.equal(config.refreshGraceSeconds, 10);
    const [dingtalk] = config.upstreams;
    assert.ok(dingtalk?.type === 'dingtalk');
    assert.deepEqual(dingtalk.groups, { source: 'departments', format: 'path', ancestors: true });
    assert.equal(dingtalk.recheckAfter, 900);
    assert.equal(dingtalk.recheckGrace, 1800);
    assert.equal(dingtalk.endpoints.api, 'https://api.dingtalk.com');
    assert.equal(config.clients[0]?.emitEmail, 'verified');
    assert.equal(config.clients[0]?.skipConsent, false);
    assert.deepEqual(config.shutdown, { drainDelay: 5 });
  });

  it('shutdown.drainDelay: a duration, 0 allowed, never negative', () => {
    const withDelay = (value: string) => `${minimal}shutdown: { drainDelay: ${value} }\n`;
    assert.equal(parseConfig(withDelay('0'), {}).shutdown.drainDelay, 0);
    assert.equal(parseConfig(withDelay('1s'), {}).shutdown.drainDelay, 1);
    assert.equal(parseConfig(withDelay('1m'), {}).shutdown.drainDelay, 60);
    assert.match(problemsOf(withDelay('-1')).join('\n'), /shutdown\.drainDelay/);
  });

  it('interpolates ${VAR} and ${VAR:-default}, typing whole references', () => {
    const text = minimal.replace(
      'issuer: https://sso.example.com',
      'issuer: ${ISSUER}\nlisten: { port: "${PORT:-9090}" }\nrefreshGraceSeconds: "${GRACE}"',
    );
    const config = parseConfig(text, { ISSUER: 'https://id.example.com/sso', GRACE: '5' });
    assert.equal(config.issuer, 'https://id.example.com/sso');
    assert.equal(config.listen.port, 9090);
    assert.equal(config.refreshGraceSeconds, 5);
  });

  // Block style: an unquoted ${VAR} is not valid YAML inside a flow mapping's braces.
  const blockStyle = (extra = '') => `
issuer: https://sso.example.com
cookieSecrets: ["${'s'.repeat(32)}"]
upstreams:
  - id: dingtalk
    type: dingtalk
    clientId: \${APP_KEY}
    clientSecret: "\${APP_SECRET}"
    corpId: ding1
clients:
  - client_id: \${CLIENT_ID}
    client_secret: \${CLIENT_SECRET}
    redirect_uris: [https://app.example.com/cb]
${extra}`;
  const numericIds = { APP_KEY: '42', APP_SECRET: '0.5', CLIENT_ID: '1001', CLIENT_SECRET: '12345678' };

  it('keeps a numeric or boolean ${VAR} a string where the schema wants a string, quoted or not', () => {
    const config = parseConfig(
      blockStyle(`store:
  type: redis
  keyPrefix: "\${PREFIX}"
  sentinel:
    name: m
    nodes: ["s:26379"]
    password: \${SENTINEL_PASSWORD}
`),
      { ...numericIds, PREFIX: 'true', SENTINEL_PASSWORD: '-7' },
    );
    const [upstream] = config.upstreams;
    assert.ok(upstream?.type === 'dingtalk');
    assert.equal(upstream.clientId, '42');
    assert.equal(upstream.clientSecret, '0.5');
    assert.equal(config.clients[0]?.client_id, '1001');
    assert.equal(config.clients[0]?.client_secret, '12345678');
    assert.ok(config.store.type === 'redis');
    assert.equal(config.store.keyPrefix, 'true');
    assert.equal(config.store.sentinel?.password, '-7');
  });

  it('types a numeric or boolean ${VAR} where the schema wants a number or boolean, beside string ones', () => {
    const config = parseConfig(
      blockStyle(`listen:
  port: \${PORT}
trustProxy: { hops: "\${HOPS}" }
ttl:
  accessToken: \${ACCESS_TTL}
rateLimits:
  enabled: \${LIMITS}
`),
      { ...numericIds, PORT: '9090', HOPS: '2', ACCESS_TTL: '900', LIMITS: 'false' },
    );
    assert.equal(config.listen.port, 9090);
    assert.deepEqual(config.trustProxy, { hops: 2 });
    assert.equal(config.ttl.accessToken, 900);
    assert.equal(config.rateLimits.enabled, false);
    assert.equal(config.clients[0]?.client_id, '1001');
    assert.equal(config.clients[0]?.client_secret, '12345678');
  });

  it('reports a mistaken numeric ${VAR} by what the key needs, not by its type', () => {
    const text = blockStyle('listen:\n  port: ${PORT}\n').replace(
      `cookieSecrets: ["${'s'.repeat(32)}"]`,
      'cookieSecrets: ["${COOKIE_SECRET}"]',
    );
    const problems = problemsOf(text, { ...numericIds, COOKIE_SECRET: '12345678', PORT: '70000' }).join('\n');
    assert.match(problems, /^cookieSecrets\[0\]: cookie secrets need at least 32 characters/m);
    assert.match(problems, /^listen\.port: Too big: expected number to be <=65535/m);
    assert.doesNotMatch(problems, /expected (string|number), received/);
  });

  it('never lets an environment value inject YAML structure', () => {
    const config = parseConfig(minimal.replace('secret, corpId', '"${SECRET}", corpId'), { SECRET: 'a\nissuer: https://evil.example' });
    assert.equal(config.issuer, 'https://sso.example.com');
    assert.ok(config.upstreams[0]?.clientSecret?.includes('evil'));
  });

  it('reports every mistake at once, each with its path', () => {
    const problems = problemsOf(`
issuer: ftp://sso.example.com/
colour: blue
store: { type: redis, urll: redis://x }
cookieSecrets: [short]
upstreams:
  - { id: dingtalk, type: dingtalk, clientId: "\${MISSING}", clientSecret: s }
clients:
  - { client_id: kubesphere, client_secret: x, redirect_uris: [https://a/cb], skipconsent: true, upstreams: [idaas] }
`);
    const text = problems.join('\n');
    assert.match(text, /^issuer: expected an http\(s\) URL/m);
    assert.match(text, /^\(top level\): unknown key "colour"/m);
    assert.match(text, /^store: unknown key "urll"/m);
    assert.match(text, /^cookieSecrets\[0\]: cookie secrets need at least 32 characters/m);
    assert.match(text, /^upstreams\[0\]\.clientId: environment variable MISSING is not set/m);
    assert.match(text, /^upstreams\[0\]\.corpId \(upstream "dingtalk"\): required: only members/m);
    assert.match(text, /^clients\[0\] \(client "kubesphere"\): unknown key "skipconsent"/m);
    assert.match(text, /^clients\[0\]\.upstreams\[0\] \(client "kubesphere"\): unknown upstream "idaas"/m);
    assert.equal(problems.filter((p) => p.startsWith('upstreams[0].clientId')).length, 1, 'an unset variable is reported once');
  });

  it('names missing required values', () => {
    const problems = problemsOf('issuer: https://a.example.com\n');
    assert.ok(problems.includes('cookieSecrets: required (expected array)'), problems.join('\n'));
    assert.ok(problems.includes('upstreams: required (expected array)'));
    assert.ok(problems.includes('clients: required (expected array)'));
  });

  it('requires a secret for confidential clients and allows public ones', () => {
    const problems = problemsOf(minimal.replace('client_secret: shh, ', ''));
    assert.match(problems.join('\n'), /clients\[0\]\.client_secret \(client "app"\): required for a confidential client/);
    const config = parseConfig(minimal.replace('client_secret: shh, ', 'token_endpoint_auth_method: none, application_type: native, '), {});
    assert.equal(config.clients[0]?.token_endpoint_auth_method, 'none');
  });

  it('checks upstream-specific requirements', () => {
    const oauth2 = minimal.replace(/- \{ id: dingtalk.*\}/, '- { id: idaas, type: oauth2, clientId: a, clientSecret: b }');
    const text = problemsOf(oauth2).join('\n');
    assert.match(text, /upstreams\[0\]\.authorizationURL \(upstream "idaas"\): required \(or give preset and baseURL\)/);
    assert.match(text, /upstreams\[0\]\.claims\.subject \(upstream "idaas"\): required/);
    const preset = parseConfig(
      minimal.replace(
        /- \{ id: dingtalk.*\}/,
        '- { id: idaas, type: oauth2, preset: aliyun-idaas, baseURL: "https://x.login.aliyunidaas.com", clientId: a, clientSecret: b }',
      ),
      {},
    );
    assert.equal(preset.upstreams[0]?.type, 'oauth2');
    const dup = problemsOf(
      minimal.replace('upstreams:\n', 'upstreams:\n  - { id: dingtalk, type: dingtalk, clientId: k, clientSecret: s, corpId: c }\n'),
    );
    assert.match(dup.join('\n'), /duplicate upstream id "dingtalk"/);
  });

  it('refuses a permissive DingTalk upstream in the link domain of an enforcing one', () => {
    const permissive = (extra: string) =>
      minimal.replace(
        'upstreams:\n',
        `upstreams:\n  - { id: anyone, type: dingtalk, clientId: k2, clientSecret: s2, corpId: ding1, allowAnyDingTalkUser: true${extra} }\n`,
      );
    assert.equal(parseConfig(permissive(''), {}).upstreams.length, 2, 'the default dingtalk-any:ding1 is its own');
    assert.match(
      problemsOf(permissive(', linkDomain: "dingtalk:ding1"')).join(),
      /upstreams\[0\]\.linkDomain.*link domain of upstream "dingtalk", which checks membership/,
    );
  });

  it('refuses upstreams that would share a groups namespace', () => {
    const two = (extra: string) =>
      minimal.replace(
        'upstreams:\n',
        `upstreams:\n  - { id: eiam, type: oidc, issuer: "https://eiam.example.com", clientId: c${extra} }\n`,
      );
    assert.equal(parseConfig(two(''), {}).upstreams.length, 2, 'the defaults eiam: and dingtalk: differ');
    assert.match(
      problemsOf(two(', groupsPrefix: "dingtalk:"')).join(),
      /upstreams\[0\]\.groupsPrefix.*share a groups namespace with upstream "dingtalk"/,
    );
    assert.match(problemsOf(two(', groupsPrefix: ""')).join(), /share a groups namespace/, 'no prefix shares every namespace');
    assert.equal(
      parseConfig(minimal.replace('corpId: ding1', 'corpId: ding1, groupsPrefix: ""'), {}).upstreams[0]?.groupsPrefix,
      '',
      'alone, an upstream may go without',
    );
  });

  it('rejects username pins that are invalid, reserved or collide', () => {
    const withPins = (pins: string) => minimal + `usernames:\n  reserved: [ops]\n  pins: ${pins}\n`;
    assert.match(problemsOf(withPins('{ "dingtalk:ding1:userid:a": Bad_Name }')).join(), /not a valid username/);
    assert.match(problemsOf(withPins('{ "dingtalk:ding1:userid:a": ops }')).join(), /reserved username/);
    assert.match(problemsOf(withPins('{ "dingtalk:ding1:userid:a": admin }')).join(), /reserved username/);
    assert.match(
      problemsOf(withPins('{ "dingtalk:ding1:userid:a": zw, "dingtalk:ding1:userid:b": zw }')).join(),
      /already pinned to dingtalk:ding1:userid:a/,
    );
    assert.match(
      problemsOf(withPins('{ "nonsense": zw }')).join(),
      /usernames\.pins\.nonsense: invalid key: expected <linkDomain>:<attribute>:<value>/,
    );
    // The form documented before pins named the tenant: an error that names the new form.
    assert.match(
      problemsOf(withPins('{ "dingtalk:userid:manager4220": zw }')).join(),
      /invalid key: "dingtalk:userid:manager4220" names only the upstream type.*"dingtalk:<tenant>:userid:manager4220"/,
    );
  });

  it('parses durations', () => {
    const config = parseConfig(minimal + 'ttl: { accessToken: 15m, idToken: 90, refreshToken: 7d }\n', {});
    assert.equal(config.ttl.accessToken, 900);
    assert.equal(config.ttl.idToken, 90);
    assert.equal(config.ttl.refreshToken, 7 * 86400);
    assert.match(problemsOf(minimal + 'ttl: { accessToken: soon }\n').join(), /ttl\.accessToken: /);
  });

  it('reports YAML syntax errors with a position', () => {
    assert.match(problemsOf('issuer: [unclosed\n').join(), /YAML: .*line \d+/);
  });

  it('warns about allowAnyDingTalkUser and a plain-http issuer', () => {
    const config = parseConfig(minimal.replace('corpId: ding1', 'allowAnyDingTalkUser: true').replace('https://sso', 'http://sso'), {});
    const warnings = configWarnings(config).join('\n');
    assert.match(warnings, /ANYONE with a DingTalk account/);
    assert.match(warnings, /not https/);
  });

  it('refuses a memory store under NODE_ENV=production, as check and serve both do', () => {
    const errors = productionConfigErrors(parseConfig(minimal, {}));
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0]!, /^store\.type: memory under NODE_ENV=production: .*set store\.type: redis/);
    assert.deepEqual(productionConfigErrors(parseConfig(minimal + 'store: { type: redis }\n', {})), []);
  });

  it('finds the file from --config, OIDC_BRIDGE_CONFIG, then ./config.yaml', async () => {
    assert.match(resolveConfigPath(['serve', '--config', 'a.yaml'], { OIDC_BRIDGE_CONFIG: 'b.yaml' })!, /a\.yaml$/);
    assert.match(resolveConfigPath(['serve', '--config=c.yaml'], {})!, /c\.yaml$/);
    assert.match(resolveConfigPath(['serve'], { OIDC_BRIDGE_CONFIG: 'b.yaml' })!, /b\.yaml$/);
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'bridge.yaml');
    writeFileSync(file, minimal);
    assert.equal((await loadConfig(file, {})).issuer, 'https://sso.example.com');
    await assert.rejects(
      loadConfig(join(dir, 'absent.yaml'), {}),
      (err: ConfigError) => err.problems[0] === 'cannot read the file: ENOENT',
    );
  });
});
