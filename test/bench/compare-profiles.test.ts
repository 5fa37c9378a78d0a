/**
 * bench/compare-profiles.ts on two small hand-made profiles: each is scaled to its CPU per request,
 * idle samples are left out, and each leaf lands in its part (the store, oidc-provider, GC).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { costsOf, difference } from '../../bench/compare-profiles.js';
import type { Profile } from '../../bench/cpuprofile.js';

const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });

/** A root with four leaves; `samples` names the leaf of each sample, 10 µs apart. */
function profile(samples: Array<'idle' | 'store' | 'engine' | 'gc'>): Profile {
  const ids = { idle: 2, store: 3, engine: 4, gc: 5 };
  return {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 3, 4, 5] },
      { id: 2, callFrame: frame('(idle)', '') },
      { id: 3, callFrame: frame('parsePayload', 'file:///srv/oidc-bridge/dist/store/model-store.js') },
      { id: 4, callFrame: frame('validateAccessToken', 'file:///srv/oidc-bridge/node_modules/oidc-provider/lib/shared/access_token.js') },
      { id: 5, callFrame: frame('(garbage collector)', '') },
    ],
    samples: samples.map((s) => ids[s]),
    timeDeltas: samples.map(() => 10),
  };
}

describe('bench/compare-profiles.ts', () => {
  it('scales each profile to its CPU per request and sorts the parts by what the bridge adds', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oidc-bridge-profiles-'));
    try {
      const bridge = join(dir, 'a.cpuprofile');
      const engine = join(dir, 'c.cpuprofile');
      // Bridge: half store, a quarter engine, a quarter GC (idle not counted); engine: 3/4 engine, 1/4 GC.
      writeFileSync(bridge, JSON.stringify(profile(['idle', 'store', 'store', 'engine', 'gc', 'idle'])));
      writeFileSync(engine, JSON.stringify(profile(['engine', 'engine', 'engine', 'gc', 'idle'])));
      const a = costsOf(bridge, 400);
      const c = costsOf(engine, 200);
      assert.equal(a.byPart.get('store (records as JSON, lookups, indexes)'), 200);
      assert.equal(a.byPart.get('oidc-provider, koa, jose'), 100);
      assert.equal(c.byPart.get('oidc-provider, koa, jose'), 150);
      assert.equal(c.byPart.get('garbage collection'), 50);
      assert.deepEqual(
        difference(a.byPart, c.byPart).map(([name, x, y]) => [name, x - y]),
        [
          ['store (records as JSON, lookups, indexes)', 200],
          ['garbage collection', 50],
          ['oidc-provider, koa, jose', -50],
        ],
      );
      assert.equal(a.byFunction.get('parsePayload dist/store/model-store.js:1'), 200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
