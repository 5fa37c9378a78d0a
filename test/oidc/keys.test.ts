import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { SignJWT, createLocalJWKSet, importJWK, jwtVerify, type JWK } from 'jose';
import { KeyFileError, KeysExistError, KeysMissingError, generateKeys, listKeys, loadKeys, rotateKeys } from '../../src/oidc/keys.js';
import { nextChange, publicationOrder, scheduleKeys, type ScheduledKey } from '../../src/oidc/keys-schedule.js';
import { runKeysCommand } from '../../src/cli/keys.js';
import { configSchema } from '../../src/config/schema.js';

const LEAD = 3600;
const TTL = 86_400;
const T0 = new Date('2030-01-01T00:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'oidc-bridge-keys-'));
  dirs.push(dir);
  return dir;
}
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

function fakeLog() {
  const warnings: string[] = [];
  return {
    warnings,
    warn: (_details: Record<string, unknown>, message: string) => {
      warnings.push(message);
    },
  };
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'];
function publicSet(keys: JWK[]): { keys: JWK[] } {
  return { keys: keys.map((jwk) => Object.fromEntries(Object.entries(jwk).filter(([k]) => !PRIVATE_MEMBERS.includes(k)))) };
}

const firstOf = (keys: JWK[], alg: string) => keys.find((jwk) => jwk.alg === alg)!;

async function signWith(jwk: JWK): Promise<string> {
  return new SignJWT({ sub: 'someone' })
    .setProtectedHeader({ alg: jwk.alg!, kid: jwk.kid! })
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(await importJWK(jwk, jwk.alg));
}

async function load(dir: string, now: Date, production = true) {
  const log = fakeLog();
  const loaded = await loadKeys({ dir, production, maxTokenLifetimeSeconds: TTL, now, log });
  return { ...loaded, log };
}

describe('generateKeys', () => {
  let dir: string;
  before(async () => {
    dir = join(await tempDir(), 'keys');
  });

  it('writes an RS256 and an ES256 key, files 0600 in a 0700 directory', async () => {
    const created = await generateKeys(dir, { now: T0 });
    assert.deepEqual(
      created.map((key) => key.alg),
      ['RS256', 'ES256'],
    );
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const names = (await readdir(dir)).sort();
    assert.equal(names.length, 2);
    for (const key of created) {
      assert.ok(names.some((name) => key.file.endsWith(name)));
      assert.equal((await stat(key.file)).mode & 0o777, 0o600);
      const stored = JSON.parse(await readFile(key.file, 'utf8'));
      assert.equal(stored.kid, key.kid);
      assert.equal(stored.alg, key.alg);
      assert.equal(stored.use, 'sig');
      assert.equal(stored.createdAt, T0.toISOString());
      assert.equal(stored.activatesAt, T0.toISOString());
      assert.equal(typeof stored.jwk.d, 'string');
    }
  });

  it('refuses a second generate, and --force replaces the keys', async () => {
    const previous = (await readdir(dir)).sort();
    await assert.rejects(
      generateKeys(dir, { now: T0 }),
      (err: Error) => err instanceof KeysExistError && err.message.includes('keys rotate') && err.message.includes(dir),
    );
    assert.deepEqual((await readdir(dir)).sort(), previous);
    await generateKeys(dir, { now: at(5), force: true });
    const replaced = await readdir(dir);
    assert.equal(replaced.length, 2);
    assert.ok(replaced.every((name) => !previous.includes(name)));
  });
});

describe('loadKeys without keys', () => {
  it('refuses in production, naming the command, and creates nothing', async () => {
    const dir = join(await tempDir(), 'keys');
    await assert.rejects(
      load(dir, T0, true),
      (err: Error) =>
        err instanceof KeysMissingError &&
        err.message.includes('oidc-bridge keys generate --config <path>') &&
        err.message.includes('npx oidc-bridge keys generate') &&
        err.message.includes(dir),
    );
    await assert.rejects(stat(dir), { code: 'ENOENT' });
    const log = fakeLog();
    await assert.rejects(
      loadKeys({ dir, production: true, maxTokenLifetimeSeconds: TTL, log, configPath: '/etc/oidc-bridge/config.yaml' }),
      /keys generate --config \/etc\/oidc-bridge\/config\.yaml/,
    );
  });

  it('generates outside production and warns once', async () => {
    const dir = join(await tempDir(), 'keys');
    const first = await load(dir, T0, false);
    assert.equal(first.generated, true);
    assert.equal(first.log.warnings.length, 1);
    assert.match(first.log.warnings[0]!, /generated/);
    assert.ok(first.log.warnings[0]!.includes(dir));
    assert.deepEqual(
      first.jwks.keys.map((jwk) => jwk.alg),
      ['RS256', 'ES256'],
    );
    const second = await load(dir, at(1), false);
    assert.equal(second.generated, false);
    assert.equal(second.log.warnings.length, 0);
    assert.deepEqual(
      second.jwks.keys.map((jwk) => jwk.kid),
      first.jwks.keys.map((jwk) => jwk.kid),
    );
  });
});

describe('rotation', () => {
  let dir: string;
  let oldKids: Record<string, string>;
  let newKids: Record<string, string>;
  let oldToken: string;
  const activation = at(10 + LEAD);

  before(async () => {
    dir = await tempDir();
    const old = await generateKeys(dir, { now: T0 });
    oldKids = Object.fromEntries(old.map((key) => [key.alg, key.kid]));
    oldToken = await signWith(firstOf((await load(dir, at(1))).jwks.keys, 'RS256'));
    const added = await rotateKeys(dir, { rotationLeadSeconds: LEAD, now: at(10) });
    newKids = Object.fromEntries(added.map((key) => [key.alg, key.kid]));
  });

  it('sets kid, alg and use on every JWK', async () => {
    const { jwks } = await load(dir, at(20));
    assert.equal(jwks.keys.length, 4);
    for (const jwk of jwks.keys) {
      assert.equal(jwk.use, 'sig');
      assert.ok(jwk.alg === 'RS256' || jwk.alg === 'ES256');
      assert.match(jwk.kid!, /^[A-Za-z0-9_-]{43}$/);
    }
  });

  it('publishes the new keys after the active ones before their activation', async () => {
    const { jwks, nextChangeAt } = await load(dir, at(20));
    assert.deepEqual(
      jwks.keys.map((jwk) => jwk.kid),
      [oldKids.RS256, newKids.RS256, oldKids.ES256, newKids.ES256],
    );
    assert.deepEqual(nextChangeAt, activation);
  });

  it('records retiredAt on the superseded keys', async () => {
    const files = await readdir(dir);
    const stored = await Promise.all(files.map(async (name) => JSON.parse(await readFile(join(dir, name), 'utf8'))));
    const retired = stored
      .filter((key) => key.retiredAt !== undefined)
      .map((key) => key.kid)
      .sort();
    assert.deepEqual(retired, [oldKids.RS256, oldKids.ES256].sort());
    assert.ok(stored.every((key) => key.retiredAt === undefined || key.retiredAt === activation.toISOString()));
  });

  it('signs with the new key from its activation and keeps the old one published', async () => {
    const { jwks, nextChangeAt } = await load(dir, activation);
    assert.deepEqual(
      jwks.keys.map((jwk) => jwk.kid),
      [newKids.RS256, oldKids.RS256, newKids.ES256, oldKids.ES256],
    );
    assert.deepEqual(nextChangeAt, new Date(activation.getTime() + TTL * 1000));
    const { payload } = await jwtVerify(oldToken, createLocalJWKSet(publicSet(jwks.keys)));
    assert.equal(payload.sub, 'someone');
  });

  it('drops the old keys once every token they signed has expired', async () => {
    const { jwks, nextChangeAt } = await load(dir, new Date(activation.getTime() + TTL * 1000));
    assert.deepEqual(
      jwks.keys.map((jwk) => jwk.kid),
      [newKids.RS256, newKids.ES256],
    );
    assert.equal(nextChangeAt, undefined);
    await assert.rejects(jwtVerify(oldToken, createLocalJWKSet(publicSet(jwks.keys))));
  });

  it('lists every key with its state and retirement', async () => {
    const rows = await listKeys(dir, { maxTokenLifetimeSeconds: TTL, now: at(LEAD + 20) });
    const byKid = new Map(rows.map((row) => [row.kid, row]));
    assert.equal(rows.length, 4);
    assert.equal(byKid.get(oldKids.RS256!)!.state, 'retiring');
    assert.deepEqual(byKid.get(oldKids.RS256!)!.retiresAt, new Date(activation.getTime() + TTL * 1000));
    assert.equal(byKid.get(newKids.RS256!)!.state, 'active');
    assert.equal(byKid.get(newKids.RS256!)!.retiresAt, undefined);
    const early = await listKeys(dir, { maxTokenLifetimeSeconds: TTL, now: at(20) });
    assert.deepEqual(
      early.map((row) => row.state),
      ['active', 'pending', 'active', 'pending'],
    );
    const later = await listKeys(dir, { maxTokenLifetimeSeconds: TTL, now: at(LEAD + TTL + 20) });
    assert.equal(later.find((row) => row.kid === oldKids.ES256)!.state, 'expired');
  });

  it('refuses to rotate an empty directory', async () => {
    await assert.rejects(rotateKeys(await tempDir(), { rotationLeadSeconds: LEAD }), KeysMissingError);
  });
});

describe('tokens', () => {
  it('a JWT signed with the first key of each alg verifies against the public JWKS', async () => {
    const dir = await tempDir();
    await generateKeys(dir, { now: T0 });
    await rotateKeys(dir, { rotationLeadSeconds: LEAD, now: at(1) });
    const { jwks } = await load(dir, at(2));
    const published = createLocalJWKSet(publicSet(jwks.keys));
    for (const alg of ['RS256', 'ES256']) {
      const token = await signWith(firstOf(jwks.keys, alg));
      const { protectedHeader } = await jwtVerify(token, published);
      assert.equal(protectedHeader.alg, alg);
    }
    // A key that is not published must not verify: guards against a test that passes vacuously.
    const other = await tempDir();
    await generateKeys(other, { now: T0 });
    const stranger = await signWith(firstOf((await load(other, at(2))).jwks.keys, 'RS256'));
    await assert.rejects(jwtVerify(stranger, published));
  });

  it('warns when the only keys of an alg are still pending', async () => {
    const dir = await tempDir();
    await generateKeys(dir, { now: T0 });
    const added = await rotateKeys(dir, { rotationLeadSeconds: LEAD, now: at(1) });
    for (const name of await readdir(dir)) {
      if (!added.some((key) => key.file.endsWith(name))) await rm(join(dir, name));
    }
    const { jwks, log } = await load(dir, at(2));
    assert.equal(firstOf(jwks.keys, 'RS256').kid, added[0]!.kid);
    assert.equal(log.warnings.length, 2);
    assert.match(log.warnings[0]!, /no active RS256 key/);
  });
});

describe('broken key files', () => {
  async function withFile(content: string) {
    const dir = await tempDir();
    const [rs] = await generateKeys(dir, { now: T0 });
    await writeFile(rs!.file, content);
    return { dir, file: rs!.file };
  }

  it('names the file of invalid JSON and does not echo its content', async () => {
    const { dir, file } = await withFile('{"kid": "x", "jwk": {"d": "SECRET-MATERIAL"');
    await assert.rejects(
      load(dir, at(1)),
      (err: Error) =>
        err instanceof KeyFileError &&
        err.file === file &&
        err.message.includes(file) &&
        /not valid JSON/.test(err.message) &&
        !err.message.includes('SECRET'),
    );
  });

  it('names the file and the field that is wrong', async () => {
    const stored = async (dir: string, name: string) => JSON.parse(await readFile(join(dir, name), 'utf8'));
    const source = await tempDir();
    const [rs] = await generateKeys(source, { now: T0 });
    const good = await stored(source, rs!.file.slice(source.length + 1));
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...good, alg: 'HS256' }, /alg/],
      [{ ...good, activatesAt: 'soon' }, /activatesAt/],
      [{ ...good, jwk: { ...good.jwk, d: undefined } }, /jwk\.d is missing/],
      [{ ...good, alg: 'ES256' }, /jwk\.kty must be "EC"/],
      [{ ...good, jwk: { ...good.jwk, n: 'AQAB' } }, /2048 bits/],
    ];
    for (const [content, problem] of cases) {
      const { dir, file } = await withFile(JSON.stringify(content));
      await assert.rejects(
        listKeys(dir, { maxTokenLifetimeSeconds: TTL }),
        (err: Error) => err instanceof KeyFileError && err.message.includes(file) && problem.test(err.message),
      );
    }
  });

  it('the CLI prints one clear line, no stack trace', async () => {
    const { dir, file } = await withFile('not json');
    const out: string[] = [];
    const code = await runKeysCommand(['list'], {
      keysDir: dir,
      rotationLeadSeconds: LEAD,
      maxTokenLifetimeSeconds: TTL,
      production: true,
      stdout: (s) => out.push(s),
    });
    assert.equal(code, 1);
    assert.equal(out.join(''), `error: signing key file ${file}: not valid JSON\n`);
  });
});

describe('keys CLI', () => {
  let dir: string;
  let out: string[];
  const run = (args: string[], now?: Date) => {
    out = [];
    return runKeysCommand(args, {
      keysDir: dir,
      rotationLeadSeconds: LEAD,
      maxTokenLifetimeSeconds: TTL,
      production: true,
      stdout: (s) => out.push(s),
      ...(now ? { now } : {}),
    });
  };
  before(async () => {
    dir = join(await tempDir(), 'keys');
  });

  it('generate, then refuses a second generate', async () => {
    assert.equal(await run(['generate'], T0), 0);
    assert.match(out.join(''), /Generated signing keys in .*\n {2}RS256 {2}\S{43}\n {2}ES256 {2}\S{43}\n/);
    assert.equal(await run(['generate']), 1);
    assert.match(out.join(''), /^error: signing keys already exist in /);
    assert.ok(!out.join('').includes('    at '));
  });

  it('rotate says when the new keys start signing', async () => {
    assert.equal(await run(['rotate', '--config', 'config.yaml'], at(10)), 0);
    assert.ok(
      out.join('').includes(
        `signs with them from ${at(10 + LEAD)
          .toISOString()
          .replace('.000', '')} (in 1 h)`,
      ),
    );
  });

  it('list prints a table and --json', async () => {
    assert.equal(await run(['list'], at(20)), 0);
    const lines = out.join('').trimEnd().split('\n');
    assert.match(lines[0]!, /^KID +ALG +CREATED +ACTIVATES +RETIRES +STATE$/);
    assert.equal(lines.length, 5);
    assert.match(lines[1]!, /^\S{43} {2}RS256 {2}2030-01-01T00:00:00Z {2}2030-01-01T00:00:00Z {2}2030-01-02T01:00:10Z {2}active$/);
    assert.match(lines[2]!, /^\S{43} {2}RS256 {2}2030-01-01T00:00:10Z {2}2030-01-01T01:00:10Z {2}- +pending$/);
    assert.equal(await run(['list', '--json'], at(20)), 0);
    const rows = JSON.parse(out.join(''));
    assert.deepEqual(
      rows.map((row: { state: string }) => row.state),
      ['active', 'pending', 'active', 'pending'],
    );
    assert.equal(rows[1].retiresAt, null);
    assert.equal(rows[0].retiresAt, '2030-01-02T01:00:10.000Z');
  });

  it('rejects unknown commands and misplaced options with usage', async () => {
    assert.equal(await run(['destroy']), 2);
    assert.match(out.join(''), /unknown keys command "destroy"[\s\S]*Usage: oidc-bridge keys/);
    assert.equal(await run(['rotate', '--force']), 2);
    assert.match(out.join(''), /--force does not apply to "keys rotate"/);
    assert.equal(await run(['list', '--bogus']), 2);
    assert.equal(await run([]), 2);
  });
});

describe('key schedule (properties)', () => {
  const keyArb = fc.record({
    kid: fc.uuid(),
    alg: fc.constantFrom('RS256' as const, 'ES256' as const),
    activatesAt: fc.integer({ min: 0, max: 1000 }),
  });
  const ttl = 100;
  const toKeys = (raw: Array<{ kid: string; alg: 'RS256' | 'ES256'; activatesAt: number }>): ScheduledKey[] =>
    raw.map((key) => ({ ...key, createdAt: new Date(0), activatesAt: new Date(key.activatesAt * 1000) }));

  it('signs with the newest active key and publishes a key exactly while it can be needed', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(keyArb, { selector: (key) => key.kid, maxLength: 8 }),
        fc.integer({ min: -10, max: 1200 }),
        (raw, nowSeconds) => {
          const keys = toKeys(raw);
          const now = new Date(nowSeconds * 1000);
          const order = publicationOrder(scheduleKeys(keys, now, ttl));
          for (const alg of ['RS256', 'ES256'] as const) {
            const sameAlg = keys.filter((key) => key.alg === alg);
            const started = sameAlg.filter((key) => key.activatesAt <= now);
            const newest = Math.max(...started.map((key) => key.activatesAt.getTime()));
            const signer = order.find((key) => key.alg === alg);
            if (started.length > 0) assert.equal(signer!.activatesAt.getTime(), newest);
            // After the signer: keys not yet due (soonest first), then superseded ones (newest first).
            const rest = order
              .filter((key) => key.alg === alg)
              .slice(started.length > 0 ? 1 : 0)
              .map((key) => key.activatesAt.getTime());
            const pending = rest.filter((t) => t > now.getTime());
            const superseded = rest.filter((t) => t <= now.getTime());
            assert.deepEqual(rest, [...pending, ...superseded]);
            assert.deepEqual(
              pending,
              [...pending].sort((a, b) => a - b),
            );
            assert.deepEqual(
              superseded,
              [...superseded].sort((a, b) => b - a),
            );
            for (const key of sameAlg) {
              // Published while pending, current, or within ttl of a later key's activation.
              const successor = sameAlg
                .filter(
                  (other) =>
                    other !== key &&
                    (other.activatesAt > key.activatesAt ||
                      (other.activatesAt.getTime() === key.activatesAt.getTime() && other.kid > key.kid)),
                )
                .sort((a, b) => a.activatesAt.getTime() - b.activatesAt.getTime() || (a.kid < b.kid ? -1 : 1))[0];
              const needed = !successor || successor.activatesAt > now || successor.activatesAt.getTime() + ttl * 1000 > now.getTime();
              assert.equal(order.includes(key), needed);
            }
          }
        },
      ),
    );
  });

  it('nothing changes before nextChangeAt, and something changes at it', () => {
    // States are compared too: with no active key the soonest pending one already signs, so its
    // activation changes a state but not the order.
    fc.assert(
      fc.property(
        fc.uniqueArray(keyArb, { selector: (key) => key.kid, minLength: 1, maxLength: 8 }),
        fc.integer({ min: -10, max: 1200 }),
        (raw, nowSeconds) => {
          const keys = toKeys(raw);
          const now = new Date(nowSeconds * 1000);
          const kidsAt = (t: Date) => {
            const schedule = scheduleKeys(keys, t, ttl);
            return [
              ...publicationOrder(schedule).map((key) => key.kid),
              ...schedule.map((entry) => `${entry.key.kid}:${entry.state}`),
            ].join(',');
          };
          const next = nextChange(scheduleKeys(keys, now, ttl), now);
          if (next === undefined) {
            assert.equal(kidsAt(new Date(1e13)), kidsAt(now));
            return;
          }
          assert.ok(next > now);
          assert.equal(kidsAt(new Date(next.getTime() - 1)), kidsAt(now));
          assert.notEqual(kidsAt(next), kidsAt(now));
        },
      ),
    );
  });
});

describe('key file permissions', () => {
  it('warns at start-up about key files others can read or the group can write, naming the fix', async () => {
    const dir = join(await tempDir(), 'keys');
    await generateKeys(dir, { now: T0 });
    const [first, second] = (await readdir(dir)).filter((f) => f.endsWith('.key.json')).sort();
    await chmod(join(dir, first!), 0o644); // a Kubernetes Secret's default mode, or a copy under umask 022
    await chmod(join(dir, second!), 0o660);
    const { log } = await load(dir, T0);
    const warning = log.warnings.find((w) => /readable|writable/.test(w));
    assert.ok(warning, `warnings: ${log.warnings.join(' | ')}`);
    assert.ok(warning.includes(first!) && warning.includes(second!), warning);
    assert.match(warning, /chmod 600/);
    assert.match(warning, /defaultMode: 0400/);
    assert.match(warning, /fsGroup/);
  });

  it('accepts 0600 and 0400, and 0440 (what a Secret with defaultMode 0400 and fsGroup becomes)', async () => {
    const dir = join(await tempDir(), 'keys');
    await generateKeys(dir, { now: T0 });
    const files = (await readdir(dir)).filter((f) => f.endsWith('.key.json')).sort();
    assert.equal((await stat(join(dir, files[0]!))).mode & 0o777, 0o600, 'generated as 0600');
    await chmod(join(dir, files[1]!), 0o440);
    assert.deepEqual((await load(dir, T0)).log.warnings, []);
    await chmod(join(dir, files[1]!), 0o400);
    assert.deepEqual((await load(dir, T0)).log.warnings, []);
  });
});

describe('keys config', () => {
  const base = {
    issuer: 'https://sso.example.test',
    cookieSecrets: ['x'.repeat(32)],
    upstreams: [{ id: 'u', type: 'oidc', issuer: 'https://idp.example.test', clientId: 'c' }],
    clients: [{ client_id: 'c', client_secret: 's', redirect_uris: ['https://rp.example.test/cb'] }],
  };

  it('re-reads keys.dir every minute by default, well inside the hour a rotated key waits', () => {
    const { keys } = configSchema.parse(base);
    assert.deepEqual([keys.reloadInterval, keys.rotationLead], [60, 3600]);
  });

  it('re-reads at half a short rotationLead by default, rather than refusing a config that never set the interval', () => {
    assert.equal(configSchema.parse({ ...base, keys: { rotationLead: '30s' } }).keys.reloadInterval, 15);
    assert.equal(configSchema.parse({ ...base, keys: { rotationLead: 0 } }).keys.reloadInterval, 1);
  });

  it('refuses a re-read interval that a rotated key could activate within, naming the key', () => {
    const result = configSchema.safeParse({ ...base, keys: { rotationLead: '5m', reloadInterval: '10m' } });
    assert.equal(result.success, false);
    const issue = result.error.issues.find((i) => i.path.join('.') === 'keys.reloadInterval');
    assert.match(issue?.message ?? '', /shorter than keys\.rotationLead/);
    assert.equal(configSchema.safeParse({ ...base, keys: { reloadInterval: 0 } }).success, false, 'never 0: a busy loop');
  });
});
