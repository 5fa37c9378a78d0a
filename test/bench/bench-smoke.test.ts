/**
 * The benchmark harness (bench/run.ts) in --quick mode: it starts the three servers, runs every
 * row for a moment and writes its JSON and Markdown. Checks the shape of what it writes, never the
 * numbers (speed is measured by `npm run bench`, not by tests).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Report } from '../../bench/report.js';
import { runProcess } from '../helpers/run-process.js';

const ROWS = [
  'discovery',
  'JWKS',
  'token (authorization_code)',
  'token (refresh_token)',
  'token (refresh_token, DingTalk recheck)',
  'userinfo',
  'introspection',
];

describe('bench harness', () => {
  // Starts four processes from source and makes a few dozen logins: minutes on a busy 2-core machine.
  it('runs in quick mode and writes every row for the three servers, logins per step, and memory', { timeout: 480_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'oidc-bridge-bench-smoke-'));
    try {
      const run = await runProcess(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', out]);
      assert.equal(run.code, 0, run.stderr);
      const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as Report;
      assert.deepEqual(
        report.rows.map((r) => r.name),
        ROWS,
      );
      for (const row of report.rows) {
        const ids = row.name.includes('recheck') ? ['a', 'b'] : ['a', 'b', 'c'];
        assert.deepEqual(Object.keys(row.results).sort(), ids, row.name);
        for (const id of ids) {
          const m = row.results[id as 'a' | 'b' | 'c']!;
          for (const key of ['rps', 'p50', 'p99', 'errors', 'cpuUsPerRequest'] as const)
            assert.equal(typeof m[key], 'number', `${row.name} ${id} ${key}`);
        }
      }
      assert.deepEqual(Object.keys(report.logins).sort(), ['a', 'b', 'c']);
      assert.deepEqual(Object.keys(report.logins.a!.steps).sort(), [
        '1 authorize → upstream',
        '2 sandbox login',
        '3 callback → code',
        '4 token',
        'total',
      ]);
      assert.deepEqual(Object.keys(report.memory).sort(), ['memory', 'redis']);
      assert.deepEqual(Object.keys(report.rss.production).sort(), ['memory', 'redis']);
      // The same processes sampled again while idle (a process gone by then makes the bench fail;
      // no sample at all would leave Infinity).
      assert.deepEqual(Object.keys(report.rss.productionIdle).sort(), ['memory', 'redis']);
      for (const mb of Object.values(report.rss.productionIdle)) assert.ok(Number.isFinite(mb) && mb > 20, `idle RSS ${mb} MB`);
      // Every round is kept beside the one reported, and the reported one is among them.
      const userinfo = report.rows.find((r) => r.name === 'userinfo')!.results.a!;
      assert.equal(userinfo.rounds?.length, report.method.rounds);
      assert.ok(userinfo.rounds.some((r) => r.rps === userinfo.rps));
      const code = report.rows.find((r) => r.name === 'token (authorization_code)')!.results.c!;
      assert.ok(code.amount! > 0 && code.rps > 0);
      assert.equal(report.machine.quick, true);
      assert.ok(report.machine.cores >= 1 && report.machine.node.startsWith('v'));
      const markdown = readFileSync(join(out, 'latest.md'), 'utf8');
      assert.match(markdown, /^\| endpoint \| \(a\) req\/s .*\| a\/c \| b\/c \| CPU µs\/req a · b · c \| a\/c CPU \| b\/c CPU \|$/m);
      // The server's CPU per login step, from the one-at-a-time pass.
      assert.equal(typeof report.logins.a!.steps['total']!.cpuMs, 'number');
      assert.match(run.stdout, /^introspection\s/m);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
