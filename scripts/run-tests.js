#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's own test runner and tsx as the loader.
// Node 20's `--test` does not expand globs, so the files are listed here.
// Every test and hook fails after TEST_TIMEOUT_MS unless it sets its own `timeout`
// (scripts/test-timeout.js), so one that waits for something that never comes (a
// back-channel POST, a health event) fails instead of hanging the run.
// Usage: node scripts/run-tests.js [path-filter ...]
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

// Far above the slowest healthy test or hook (14 s in a full run: the key rotation that waits for its
// activation, which sets its own 40 s; then 11 s, the demo in Chromium).
const TEST_TIMEOUT_MS = 60_000;

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const filters = process.argv.slice(2);
const files = walk('test')
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Tests run the CLI through bin/oidc-bridge.js, which prefers dist/ when it exists: a build older
// than the source (left by `npm run bench` or `npm run build`) would be tested instead of the code.
const builtAt = existsSync('dist/main.js') ? statSync('dist/main.js').mtimeMs : undefined;
if (builtAt !== undefined && walk('src').some((f) => statSync(f).mtimeMs > builtAt)) {
  console.log('dist/ is older than src/: rebuilding it, so the CLI the tests start runs this code');
  const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
console.log(`running ${files.length} test files: ${files.map((f) => relative('test', f)).join(' ')}`);
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--import', './scripts/test-timeout.js', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'test', TEST_TIMEOUT_MS: String(TEST_TIMEOUT_MS) } },
);
process.exit(result.status ?? 1);
