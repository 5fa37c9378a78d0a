// Signing keys: generate, rotate, list, and load them as the JWKS oidc-provider is configured with.
// Storage format: ./keys-file.ts. Timeline (who signs, who is published): ./keys-schedule.ts.
import { resolve } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import {
  KEY_ALGS,
  KeysError,
  ensureKeysDir,
  keyFileName,
  keyFileNames,
  looseKeyFiles,
  readKeyFiles,
  removeKeyFiles,
  writeKeyFile,
  type KeyAlg,
  type StoredKey,
} from './keys-file.js';
import { nextChange, publicationOrder, scheduleKeys, type KeySchedule, type KeyState } from './keys-schedule.js';

export { KeyFileError, KeysError, looseKeyFiles, type KeyAlg } from './keys-file.js';
export type { KeyState } from './keys-schedule.js';

/** No keys where production expects them; the message names the command that creates them. */
export class KeysMissingError extends KeysError {
  override name = 'KeysMissingError';
  constructor(
    readonly dir: string,
    configPath?: string,
  ) {
    super(
      `no signing keys in ${dir}: create them once with \`oidc-bridge keys generate --config ${configPath ?? '<path>'}\`` +
        ' (or `npx oidc-bridge keys generate`), make them available to every replica, then start again',
    );
  }
}

/** Keys already exist and `generate` was not forced. */
export class KeysExistError extends KeysError {
  override name = 'KeysExistError';
  constructor(readonly dir: string) {
    super(
      `signing keys already exist in ${dir}: use \`oidc-bridge keys rotate\` to add new ones, or` +
        ' `oidc-bridge keys generate --force` to replace them (tokens they signed then stop verifying)',
    );
  }
}

/** What generate and rotate created. */
export interface KeyInfo {
  kid: string;
  alg: KeyAlg;
  createdAt: Date;
  activatesAt: Date;
  file: string;
}

export interface KeyRow {
  kid: string;
  alg: KeyAlg;
  createdAt: Date;
  activatesAt: Date;
  /** When it stops being published; undefined while no newer key of its alg exists. */
  retiresAt?: Date;
  state: KeyState;
}

/**
 * The longest life of anything signed with a key (ID tokens, JWT access tokens): how long a
 * retired key stays published after its successor activates.
 */
export function maxSignedTokenLifetime(ttl: { idToken: number; accessToken: number }): number {
  return Math.max(ttl.idToken, ttl.accessToken);
}

export interface KeysLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

export interface LoadKeysOptions {
  dir: string;
  /** Without keys: true refuses to start (KeysMissingError), false generates them and warns. */
  production: boolean;
  /** Longest life of anything we sign: a superseded key stays published this long after its successor activates. */
  maxTokenLifetimeSeconds: number;
  now?: Date;
  log: KeysLogger;
  /** Only used to print the exact `keys generate --config …` command in KeysMissingError. */
  configPath?: string;
}

export interface LoadedKeys {
  /** Private JWKs (kid, alg, use set) in the order oidc-provider must get them: it signs with the first of each alg. */
  jwks: { keys: JWK[] };
  /** When the order or the published set changes next: rebuild the provider then. */
  nextChangeAt?: Date;
  /** True when this call created the keys (never in production). */
  generated: boolean;
}

async function newKey(dir: string, alg: KeyAlg, createdAt: Date, activatesAt: Date): Promise<StoredKey> {
  // jose returns non-extractable CryptoKeys unless asked; exportJWK needs extractable ones.
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk, 'sha256'); // RFC 7638
  return { file: resolve(dir, keyFileName({ kid, alg, createdAt })), kid, alg, createdAt, activatesAt, jwk };
}

async function addKeys(dir: string, createdAt: Date, activatesAt: Date): Promise<StoredKey[]> {
  await ensureKeysDir(dir);
  const keys: StoredKey[] = [];
  for (const alg of KEY_ALGS) {
    const key = await newKey(dir, alg, createdAt, activatesAt);
    await writeKeyFile(key);
    keys.push(key);
  }
  return keys;
}

function info({ kid, alg, createdAt, activatesAt, file }: StoredKey): KeyInfo {
  return { kid, alg, createdAt, activatesAt, file };
}

/**
 * Creates an RS256 and an ES256 key, active at once. Refuses when key files exist, unless
 * `force`: then the new keys replace them (written first, so the directory is never empty).
 */
export async function generateKeys(dir: string, options: { now?: Date; force?: boolean } = {}): Promise<KeyInfo[]> {
  const now = options.now ?? new Date();
  const existing = await keyFileNames(dir);
  if (existing.length > 0 && !options.force) throw new KeysExistError(resolve(dir));
  const keys = await addKeys(dir, now, now);
  await removeKeyFiles(dir, existing);
  return keys.map(info);
}

/**
 * Adds an RS256 and an ES256 key that activate `rotationLeadSeconds` from now, so every replica
 * publishes them (and relying parties cache them) before any replica signs with them.
 */
export async function rotateKeys(dir: string, options: { rotationLeadSeconds: number; now?: Date }): Promise<KeyInfo[]> {
  const { rotationLeadSeconds } = options;
  if (!Number.isFinite(rotationLeadSeconds) || rotationLeadSeconds < 0) {
    throw new KeysError(`rotation lead must be a non-negative number of seconds, got ${rotationLeadSeconds}`);
  }
  const now = options.now ?? new Date();
  const existing = await readKeyFiles(dir);
  if (existing.length === 0) throw new KeysMissingError(resolve(dir));
  const activatesAt = new Date(now.getTime() + rotationLeadSeconds * 1000);
  const added = await addKeys(dir, now, activatesAt);
  for (const old of existing) {
    if (old.retiredAt === undefined && old.activatesAt < activatesAt) {
      await writeKeyFile({ ...old, retiredAt: activatesAt });
    }
  }
  return added.map(info);
}

/** Every key with its state at `now`: RS256 first, each alg in activation order. */
export async function listKeys(dir: string, options: { maxTokenLifetimeSeconds: number; now?: Date }): Promise<KeyRow[]> {
  const schedule = scheduleKeys(await readKeyFiles(dir), options.now ?? new Date(), options.maxTokenLifetimeSeconds);
  return schedule.map(({ key: { kid, alg, createdAt, activatesAt }, state, retiresAt }) =>
    retiresAt ? { kid, alg, createdAt, activatesAt, retiresAt, state } : { kid, alg, createdAt, activatesAt, state },
  );
}

/** The JWKS for oidc-provider, generating keys outside production when there are none. */
export async function loadKeys(options: LoadKeysOptions): Promise<LoadedKeys> {
  const { dir, log } = options;
  const now = options.now ?? new Date();
  let keys = await readKeyFiles(dir);
  let generated = false;
  if (keys.length === 0) {
    if (options.production) throw new KeysMissingError(resolve(dir), options.configPath);
    await generateKeys(dir, { now });
    keys = await readKeyFiles(dir);
    generated = true;
    log.warn(
      { dir: resolve(dir) },
      `no signing keys found: generated an RS256 and an ES256 key in ${resolve(dir)}` +
        ' (outside production only; production refuses to start without keys)',
    );
  }
  await warnLooseKeyFiles(dir, log);
  const schedule = scheduleKeys(keys, now, options.maxTokenLifetimeSeconds);
  const ordered = publicationOrder(schedule);
  checkSigners(dir, schedule, ordered, log);
  const nextChangeAt = nextChange(schedule, now);
  const jwks = { keys: ordered.map((key): JWK => ({ ...key.jwk, kid: key.kid, alg: key.alg, use: 'sig' })) };
  return nextChangeAt ? { jwks, nextChangeAt, generated } : { jwks, generated };
}

/** How to tighten key files that `looseKeyFiles` found (the start-up warning and `doctor` say the same). */
export function looseKeyFilesFix(dir: string): string {
  return (
    `Run \`chmod 600 ${resolve(dir)}/*.key.json\` (owned by the user the bridge runs as); in Kubernetes mount the ` +
    "Secret with `defaultMode: 0400` and set the pod's `securityContext.fsGroup` so the non-root user can still read it"
  );
}

/** Private keys others can read: a warning at every start that names the fix, not a refusal (the operator may not own the mount). */
async function warnLooseKeyFiles(dir: string, log: KeysLogger): Promise<void> {
  const loose = await looseKeyFiles(dir);
  if (loose.length === 0) return;
  log.warn(
    { dir: resolve(dir), files: loose },
    `signing key files readable by other users or writable by the group: ${loose.join(', ')}. ${looseKeyFilesFix(dir)}`,
  );
}

function checkSigners(dir: string, schedule: KeySchedule<StoredKey>[], ordered: StoredKey[], log: KeysLogger): void {
  // ID tokens are RS256 unless a client registers otherwise (kube-apiserver and KubeSphere 3.x accept only RS256).
  if (!ordered.some((key) => key.alg === 'RS256')) {
    throw new KeysError(`no RS256 signing key in ${resolve(dir)}: add one with \`oidc-bridge keys rotate\``);
  }
  for (const alg of KEY_ALGS) {
    const signer = ordered.find((key) => key.alg === alg);
    if (signer && schedule.some((entry) => entry.key === signer && entry.state === 'pending')) {
      // Happens when every key of an alg was added by a rotation that has not matured yet (or clocks disagree).
      log.warn(
        { dir: resolve(dir), alg, kid: signer.kid, activatesAt: signer.activatesAt.toISOString() },
        `no active ${alg} key: signing with a key that is not due before ${signer.activatesAt.toISOString()}`,
      );
    }
  }
}
