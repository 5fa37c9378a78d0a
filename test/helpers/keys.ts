/**
 * Signing keys for test bridges. RSA generation is slow, so one key directory (an RS256 and an
 * ES256 key, as `keys generate` writes them) serves every bridge of a test process read-only;
 * a test that rotates keys takes a directory of its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeys } from '../../src/oidc/keys.js';

/** A new key directory, removed when the process exits. */
export async function freshKeysDir(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'oidc-bridge-test-keys-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  await generateKeys(dir);
  return dir;
}

let shared: Promise<string> | undefined;
/** The key directory every bridge of this process signs with (never rotate it). */
export function sharedKeysDir(): Promise<string> {
  shared ??= freshKeysDir();
  return shared;
}
