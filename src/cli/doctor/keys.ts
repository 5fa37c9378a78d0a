/**
 * The signing keys of keys.dir: an active RS256 key (kube-apiserver and KubeSphere 3.x verify
 * RS256 only, docs/reference/kubernetes.md), published by the bridge answering at the issuer, and
 * key files nobody else can read (the warning `serve` logs at start, src/oidc/keys.ts).
 */
import { resolve } from 'node:path';
import type { Config } from '../../config/schema.js';
import { listKeys, looseKeyFiles, looseKeyFilesFix, maxSignedTokenLifetime, type KeyRow } from '../../oidc/keys.js';
import { error, ok, warning, type CheckContext, type Finding } from './findings.js';
import type { IssuerFindings } from './issuer.js';

const SUBJECT = 'keys';

export async function checkKeys(config: Config, ctx: CheckContext, published: IssuerFindings['jwks']): Promise<Finding[]> {
  const dir = resolve(config.keys.dir);
  let rows: KeyRow[];
  try {
    rows = await listKeys(dir, { maxTokenLifetimeSeconds: maxSignedTokenLifetime(config.ttl), now: ctx.now() });
  } catch (err) {
    return [
      error(
        'keys.rs256',
        SUBJECT,
        err instanceof Error ? err.message : String(err),
        'Repair or remove the named file, then `oidc-bridge keys list`.',
      ),
    ];
  }
  const findings: Finding[] = [];
  const signer = rows.find((row) => row.alg === 'RS256' && row.state === 'active');
  if (!signer) {
    findings.push(
      error(
        'keys.rs256',
        SUBJECT,
        rows.length === 0
          ? `no signing keys in ${dir}`
          : `no active RS256 key in ${dir} (kube-apiserver and KubeSphere 3.x accept only RS256-signed ID tokens)`,
        rows.length === 0
          ? `Create them with \`oidc-bridge keys generate --config <file>\` and mount the same directory (one Secret) into every replica and this check.`
          : 'Add one with `oidc-bridge keys rotate --config <file>`; a rotated key signs after keys.rotationLead.',
      ),
    );
  } else {
    findings.push(ok('keys.rs256', SUBJECT, `RS256 key ${signer.kid} is active`));
    if (published) findings.push(publishedFinding(signer.kid, published));
  }
  const loose = await looseKeyFiles(dir);
  findings.push(
    loose.length === 0
      ? ok('keys.permissions', SUBJECT, `key files in ${dir} are private`)
      : warning(
          'keys.permissions',
          SUBJECT,
          `signing key files readable by other users or writable by the group: ${loose.join(', ')}`,
          looseKeyFilesFix(dir),
        ),
  );
  return findings;
}

function publishedFinding(kid: string, published: NonNullable<IssuerFindings['jwks']>): Finding {
  if (published.some((key) => key.kid === kid && (key.alg === 'RS256' || (key.alg === undefined && key.kty === 'RSA')))) {
    return ok('issuer.rs256', 'issuer', `the issuer publishes RS256 key ${kid}`);
  }
  const hasRs256 = published.some((key) => key.alg === 'RS256');
  return error(
    'issuer.rs256',
    'issuer',
    hasRs256
      ? `the issuer publishes RS256 keys, but not ${kid} from keys.dir: the bridge answering there signs with other keys`
      : 'the issuer publishes no RS256 key',
    'Mount the same keys directory (one Secret) into every replica and into this check, then restart the replicas so they load it.',
  );
}
