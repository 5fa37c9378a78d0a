// The module boundaries of docs/architecture.md ("Modules"), checked on the source: no import
// cycles, each library imported only by the module that owns it, dependencies pointing one way,
// and no comment citing something a reader of the repository cannot open.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = process.cwd();

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

interface Import {
  specifier: string;
  typeOnly: boolean;
}

// `import … from '…'`, `export … from '…'`, `import('…')`, including multi-line import lists.
const IMPORT = /(?:^|\n)\s*(import|export)\s+(type\s+)?[^'";]*?from\s+'([^']+)'|(?:^|\n)\s*import\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

function importsOf(source: string): Import[] {
  const found: Import[] = [];
  for (const m of source.matchAll(IMPORT)) {
    const specifier = m[3] ?? m[4] ?? m[5];
    if (specifier) found.push({ specifier, typeOnly: Boolean(m[2]) });
  }
  return found;
}

const sources = walk(join(ROOT, 'src')).filter((f) => f.endsWith('.ts'));
const graph = new Map<string, { file: string; imports: Import[]; local: string[] }>();
for (const file of sources) {
  const imports = importsOf(readFileSync(file, 'utf8'));
  const local = imports.filter((i) => i.specifier.startsWith('.')).map((i) => resolve(dirname(file), i.specifier).replace(/\.js$/, '.ts'));
  graph.set(file, { file, imports, local });
}

const rel = (f: string) => relative(ROOT, f);
const moduleOf = (f: string) => rel(f).split('/')[1]!.replace(/\.ts$/, '');

describe('architecture', () => {
  it('finds the imports it checks (the scanner itself works)', () => {
    const bridge = graph.get(join(ROOT, 'src/server/bridge.ts'));
    assert.ok(bridge, 'src/server/bridge.ts exists');
    assert.ok(
      bridge.local.some((f) => f.endsWith('src/oidc/provider.ts')),
      'bridge.ts imports the provider',
    );
    assert.deepEqual(importsOf("import type { A } from './a.js';\nimport {\n  b,\n} from 'lib';"), [
      { specifier: './a.js', typeOnly: true },
      { specifier: 'lib', typeOnly: false },
    ]);
  });

  it('has no import cycles (type-only imports included)', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string) => {
      state.set(file, 'open');
      stack.push(file);
      for (const next of graph.get(file)?.local ?? []) {
        if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].map(rel).join(' → '));
        else if (!state.has(next) && graph.has(next)) visit(next);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file);
    assert.deepEqual(cycles, []);
  });

  it('imports each library only from the module that owns it', () => {
    const owners: Record<string, { modules: string[]; typesAnywhere?: boolean }> = {
      ioredis: { modules: ['store'] },
      'oidc-provider': { modules: ['oidc'] },
      'prom-client': { modules: ['server'] },
      'rate-limiter-flexible': { modules: ['store'] },
      // Read from node_modules by src/pages/scripts.ts (never imported into the server).
      'dingtalk-jsapi': { modules: ['pages'] },
      'proxy-addr': { modules: ['server'] },
      // The egress proxy's transport (src/upstreams/egress-proxy.ts).
      undici: { modules: ['upstreams'] },
      express: { modules: ['server', 'interactions', 'sandbox'], typesAnywhere: true },
      playwright: { modules: [] },
      'playwright-core': { modules: [] },
    };
    const misplaced: string[] = [];
    for (const { file, imports } of graph.values()) {
      for (const { specifier, typeOnly } of imports) {
        const rule = owners[specifier];
        if (!rule || (typeOnly && rule.typesAnywhere)) continue;
        if (!rule.modules.includes(moduleOf(file))) misplaced.push(`${rel(file)} imports ${specifier}`);
      }
    }
    assert.deepEqual(misplaced, []);
  });

  it('keeps dependencies pointing inward', () => {
    // module → modules it must never import (docs/architecture.md, "Modules").
    const forbidden: Record<string, string[]> = {
      config: ['store', 'oidc', 'upstreams', 'accounts', 'interactions', 'server', 'cli', 'sandbox', 'main'],
      store: ['oidc', 'upstreams', 'accounts', 'interactions', 'server', 'cli', 'sandbox', 'main'],
      upstreams: ['oidc', 'accounts', 'interactions', 'server', 'cli', 'sandbox', 'main'],
      accounts: ['oidc', 'interactions', 'server', 'cli', 'sandbox', 'main'],
      oidc: ['upstreams', 'interactions', 'server', 'cli', 'sandbox', 'main'],
      interactions: ['server', 'cli', 'sandbox', 'main'],
      server: ['cli', 'sandbox', 'main'],
      sandbox: ['oidc', 'upstreams', 'accounts', 'interactions', 'cli', 'main'],
    };
    const wrong: string[] = [];
    for (const { file, local } of graph.values()) {
      const from = moduleOf(file);
      for (const target of local) {
        if (forbidden[from]?.includes(moduleOf(target))) wrong.push(`${rel(file)} → ${rel(target)}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('cites only what a reader of the repository can open', () => {
    // Built from parts so this file does not match itself.
    const patterns = [
      new RegExp(['\\bis', 'sue [0-9]'].join(''), 'i'),
      new RegExp(['\\.\\./sha', 'red'].join('')),
      new RegExp(['/work/', '(main|shared|wt)'].join('')),
      new RegExp(['\\bDES', 'IGN\\b'].join('')),
      new RegExp(['\\bSTY', 'LE §'].join('')),
    ];
    const files = ['src', 'test', 'docs', 'bench', 'scripts', 'deploy']
      .flatMap((d) => {
        try {
          return walk(join(ROOT, d));
        } catch {
          return [];
        }
      })
      .concat(['README.md', 'config.example.yaml', 'Dockerfile', 'docker-compose.yml'].map((f) => join(ROOT, f)))
      .filter((f) => /\.(ts|js|md|ya?ml|eta|json)$|Dockerfile$/.test(f) && !f.includes('node_modules'));
    const hits: string[] = [];
    for (const file of files) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (patterns.some((p) => p.test(line))) hits.push(`${rel(file)}:${i + 1}: ${line.trim()}`);
        });
    }
    assert.deepEqual(hits, []);
  });
});
