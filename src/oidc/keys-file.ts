// On-disk format of the signing keys: one JSON file per key in the keys directory, so a rotation
// only adds files, a Kubernetes Secret can carry the directory as-is, and a broken file is named.
//
//   keys/20250101T000000Z-rs256-<kid>.key.json   (mode 0600, directory 0700)
//   { "version": 1, "kid": "…", "alg": "RS256", "use": "sig",
//     "createdAt": "…Z", "activatesAt": "…Z", "retiredAt": "…Z" (optional), "jwk": { private JWK } }
//
// Other files in the directory (README.md, Secret mount internals such as `..data`) are ignored.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { importJWK, type JWK } from 'jose';
import { z } from 'zod';

export const KEY_ALGS = ['RS256', 'ES256'] as const;
export type KeyAlg = (typeof KEY_ALGS)[number];

const KEY_FILE_SUFFIX = '.key.json';

/** Every problem with the keys directory; its message is safe and complete enough to show as is. */
export class KeysError extends Error {
  override name = 'KeysError';
}

/** A key file (or the directory) that cannot be read, parsed or used. */
export class KeyFileError extends KeysError {
  override name = 'KeyFileError';
  constructor(
    readonly file: string,
    problem: string,
    options?: ErrorOptions,
  ) {
    super(`signing key file ${file}: ${problem}`, options);
  }
}

/** A key as stored: metadata plus the private JWK (key material only: no kid, alg or use). */
export interface StoredKey {
  /** Absolute path of the file it was read from or written to. */
  file: string;
  kid: string;
  alg: KeyAlg;
  createdAt: Date;
  /** From this instant replicas may sign with it; until then it is only published. */
  activatesAt: Date;
  /** When a newer key of the same alg took over signing. Informational: the schedule derives it. */
  retiredAt?: Date;
  jwk: JWK;
}

const keyFileSchema = z.strictObject({
  version: z.literal(1),
  kid: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be 1-128 base64url characters'),
  alg: z.enum(KEY_ALGS),
  use: z.literal('sig'),
  createdAt: z.iso.datetime(),
  activatesAt: z.iso.datetime(),
  retiredAt: z.iso.datetime().optional(),
  jwk: z.record(z.string(), z.unknown()),
});

// Only the members a private key of each type needs are kept: anything else (key_ops, ext, a stray
// alg) would end up in the published JWKS or change how oidc-provider selects keys.
const JWK_MEMBERS: Record<KeyAlg, { kty: string; crv?: string; members: readonly string[] }> = {
  RS256: { kty: 'RSA', members: ['n', 'e', 'd', 'p', 'q', 'dp', 'dq', 'qi'] },
  ES256: { kty: 'EC', crv: 'P-256', members: ['crv', 'x', 'y', 'd'] },
};

function keyMaterial(alg: KeyAlg, raw: Record<string, unknown>): JWK | string {
  const spec = JWK_MEMBERS[alg];
  if (raw.kty !== spec.kty) return `jwk.kty must be "${spec.kty}" for ${alg}`;
  if (spec.crv && raw.crv !== spec.crv) return `jwk.crv must be "${spec.crv}" for ${alg}`;
  const jwk: Record<string, string> = { kty: spec.kty };
  for (const member of spec.members) {
    const value = raw[member];
    if (typeof value !== 'string' || value === '') return `jwk.${member} is missing (a private key is needed)`;
    jwk[member] = value;
  }
  // jose refuses to sign RS256 with a modulus under 2048 bits; fail at load, not at the first token.
  if (alg === 'RS256' && Buffer.from(jwk.n!, 'base64url').length < 256) return 'RSA modulus is shorter than 2048 bits';
  return jwk;
}

/** File names of the key files in `dir` ([] when it does not exist), without parsing them. */
export async function keyFileNames(dir: string): Promise<string[]> {
  try {
    const names = await readdir(dir);
    return names.filter((name) => name.endsWith(KEY_FILE_SUFFIX) && !name.startsWith('.')).sort();
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw new KeyFileError(resolve(dir), `cannot read the directory (${errorCode(err) ?? 'unknown error'})`, { cause: err });
  }
}

/** Every key in `dir`, validated (including the key material); [] when there are none. */
export async function readKeyFiles(dir: string): Promise<StoredKey[]> {
  const keys: StoredKey[] = [];
  for (const name of await keyFileNames(dir)) {
    const key = await readKeyFile(resolve(dir, name));
    const clash = keys.find((other) => other.kid === key.kid);
    if (clash) throw new KeyFileError(key.file, `kid ${key.kid} is also used by ${clash.file}`);
    keys.push(key);
  }
  return keys;
}

async function readKeyFile(file: string): Promise<StoredKey> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new KeyFileError(file, `cannot read it (${errorCode(err) ?? 'unknown error'})`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // JSON.parse quotes the text around the error: that could be private key material.
    throw new KeyFileError(file, 'not valid JSON');
  }
  const parsed = keyFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new KeyFileError(file, `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const { kid, alg, createdAt, activatesAt, retiredAt } = parsed.data;
  const jwk = keyMaterial(alg, parsed.data.jwk);
  if (typeof jwk === 'string') throw new KeyFileError(file, jwk);
  try {
    await importJWK(jwk, alg);
  } catch {
    throw new KeyFileError(file, `jwk is not a usable ${alg} private key`);
  }
  return {
    file,
    kid,
    alg,
    jwk,
    createdAt: new Date(createdAt),
    activatesAt: new Date(activatesAt),
    ...(retiredAt === undefined ? {} : { retiredAt: new Date(retiredAt) }),
  };
}

/**
 * Permission bits a private key file must not have: any access by others, or write by the group.
 * Group read is allowed: a Kubernetes Secret mounted with `defaultMode: 0400` in a pod with an
 * `fsGroup` is 0440 (the kubelet adds group read for the pod's fsGroup), see
 * https://github.com/kubernetes/kubernetes/issues/57923.
 */
const LOOSE_BITS = 0o027;

/** Key files in `dir` whose mode is looser than 0640 without group write (stat follows a Secret's symlinks), as `name (0644)`. */
export async function looseKeyFiles(dir: string): Promise<string[]> {
  if (process.platform === 'win32') return []; // no POSIX modes
  const loose: string[] = [];
  for (const name of await keyFileNames(dir)) {
    const mode = (await stat(resolve(dir, name)).catch(() => undefined))?.mode;
    if (mode !== undefined && (mode & LOOSE_BITS) !== 0) loose.push(`${name} (${(mode & 0o777).toString(8).padStart(4, '0')})`);
  }
  return loose;
}

/** The file name a new key gets: sortable by creation time, unique by kid. */
export function keyFileName(key: Pick<StoredKey, 'kid' | 'alg' | 'createdAt'>): string {
  const stamp = key.createdAt
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
  return `${stamp}-${key.alg.toLowerCase()}-${key.kid}${KEY_FILE_SUFFIX}`;
}

/** Creates `dir` with mode 0700 (tightening an existing one where we may). */
export async function ensureKeysDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new KeyFileError(resolve(dir), `cannot create the directory (${errorCode(err) ?? 'unknown error'})`, { cause: err });
  }
  // Best effort: a directory owned by someone else keeps its mode; the files are 0600 regardless.
  await chmod(dir, 0o700).catch(() => undefined);
}

/** Writes `key` to `key.file` atomically (temp file + rename), mode 0600. */
export async function writeKeyFile(key: StoredKey): Promise<void> {
  const text = `${JSON.stringify(toFileJson(key), null, 2)}\n`;
  const tmp = join(resolve(key.file, '..'), `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, key.file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new KeyFileError(key.file, `cannot write it (${errorCode(err) ?? 'unknown error'})`, { cause: err });
  }
}

/** Deletes the named key files from `dir`. */
export async function removeKeyFiles(dir: string, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const file = resolve(dir, name);
    await unlink(file).catch((err: unknown) => {
      if (errorCode(err) === 'ENOENT') return;
      throw new KeyFileError(file, `cannot delete it (${errorCode(err) ?? 'unknown error'})`, { cause: err });
    });
  }
}

function toFileJson(key: StoredKey) {
  return {
    version: 1,
    kid: key.kid,
    alg: key.alg,
    use: 'sig',
    createdAt: key.createdAt.toISOString(),
    activatesAt: key.activatesAt.toISOString(),
    ...(key.retiredAt ? { retiredAt: key.retiredAt.toISOString() } : {}),
    jwk: key.jwk,
  };
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
