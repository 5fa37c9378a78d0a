/**
 * What every `oidc-bridge doctor` check returns: findings, each with a stable id (documented in
 * docs/doctor.md; machines match on it), what it is about, what was found, and how to fix it.
 * A finding never carries a secret: checks name a secret's owner and length, never its value.
 */

export type Severity = 'error' | 'warning' | 'ok';

export interface Finding {
  /** Stable, dotted: `issuer.discovery`, `client.redirect-uri`, `dingtalk.ip-allowlist` … */
  id: string;
  severity: Severity;
  /** What it is about: `issuer`, `client kubesphere`, `upstream dingtalk`, `store` …; '' for the whole config. */
  subject: string;
  message: string;
  /** What to change; absent on `ok`. */
  fix?: string;
}

export const ok = (id: string, subject: string, message: string): Finding => ({ id, severity: 'ok', subject, message });

export const warning = (id: string, subject: string, message: string, fix: string): Finding => ({
  id,
  severity: 'warning',
  subject,
  message,
  fix,
});

export const error = (id: string, subject: string, message: string, fix: string): Finding => ({
  id,
  severity: 'error',
  subject,
  message,
  fix,
});

/** Non-zero on any error; warnings alone still pass (docs/doctor.md, "Exit status"). */
export function exitCodeOf(findings: readonly Finding[]): number {
  return findings.some((f) => f.severity === 'error') ? 1 : 0;
}

/** What every check gets besides the config. */
export interface CheckContext {
  /** Milliseconds allowed for each network call (`--timeout`). */
  timeoutMs: number;
  fetch: typeof fetch;
  now: () => Date;
}
