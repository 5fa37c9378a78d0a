/**
 * The snippets of docs/connect-your-tools.md, read from the page itself so the tests check what
 * operators copy: each fenced block follows a `<!-- snippet: NAME -->` line. Client entries are
 * loaded through the real config loader (src/config/load.ts), `${ENV}` references included.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import type { ClientConfig, Config } from '../../src/config/schema.js';

export const DOC_PATH = fileURLToPath(new URL('../../docs/connect-your-tools.md', import.meta.url));

/** The issuer the page's snippets name. */
export const DOC_ISSUER = 'https://sso.example.com';

/** What the `${…}` references of the page's client entries resolve to in these tests (32+ bytes each). */
export const SNIPPET_ENV: Record<string, string> = {
  GRAFANA_CLIENT_SECRET: 'grafana-client-secret-0123456789abcdef',
  ARGOCD_CLIENT_SECRET: 'argocd-client-secret-0123456789abcdef',
  HARBOR_CLIENT_SECRET: 'harbor-client-secret-0123456789abcdef',
  GITLAB_CLIENT_SECRET: 'gitlab-client-secret-0123456789abcdef',
  REPORTS_CLIENT_SECRET: 'reports-client-secret-0123456789abcdef',
};

/** Every snippet on the page, by name, in page order. */
export function snippets(text = readFileSync(DOC_PATH, 'utf8')): Map<string, { lang: string; code: string }> {
  const found = new Map<string, { lang: string; code: string }>();
  for (const m of text.matchAll(/<!-- snippet: ([\w-]+) -->\n```(\w*)\n([\s\S]*?)\n```/g)) {
    if (found.has(m[1]!)) throw new Error(`snippet ${m[1]} appears twice`);
    found.set(m[1]!, { lang: m[2]!, code: m[3]! });
  }
  return found;
}

export function snippet(name: string): string {
  const found = snippets().get(name);
  if (!found) throw new Error(`docs/connect-your-tools.md has no snippet "${name}"`);
  return found.code;
}

/**
 * A whole config around the client entries of `names`, as an operator's `config.yaml` would hold
 * them (one DingTalk upstream), loaded by the real loader. Throws ConfigError on any mistake.
 */
export function loadDocClients(...names: string[]): Config {
  const clients = names.flatMap((name) => {
    const doc = parseYaml(snippet(name)) as { clients?: unknown[] };
    if (!Array.isArray(doc.clients)) throw new Error(`snippet ${name} has no clients: list`);
    return doc.clients;
  });
  const text = stringifyYaml({
    issuer: DOC_ISSUER,
    cookieSecrets: ['a-cookie-secret-of-at-least-32-characters'],
    upstreams: [{ id: 'dingtalk', type: 'dingtalk', clientId: 'app', clientSecret: 'secret', corpId: 'ding0123456789' }],
    clients,
  });
  return parseConfig(text, SNIPPET_ENV, 'docs/connect-your-tools.md');
}

/** One documented client entry, parsed with its defaults (what startBridge is given). */
export function docClient(snippetName: string, clientId: string): ClientConfig {
  const found = loadDocClients(snippetName).clients.find((c) => c.client_id === clientId);
  if (!found) throw new Error(`snippet ${snippetName} has no client ${clientId}`);
  return found;
}

/** `[section] key = value` lines of an ini snippet (Grafana's format: `;` and `#` start comments). */
export function parseIni(text: string): Record<string, Record<string, string>> {
  const sections: Record<string, Record<string, string>> = {};
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith(';') || line.startsWith('#')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      current = header[1]!;
      sections[current] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`not an ini line: ${line}`);
    (sections[current] ??= {})[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return sections;
}

/** The payload of a compact JWS, as every consumer that decodes an ID token reads it. */
export function jwtPayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

export function jwtHeader(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}
