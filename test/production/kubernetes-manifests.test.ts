// The kustomize bases in deploy/: what `kubectl apply -k` would run must be the image the base
// names. kustomize applies an `images:` rule only to the resources of the kustomization that
// declares it, so deploy/doctor repeats the base's rule for its Job.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

interface ImageRule {
  name: string;
  newName?: string;
  newTag?: string;
}

const kustomization = (dir: string) => parse(readFileSync(`deploy/${dir}/kustomization.yaml`, 'utf8')) as { images?: ImageRule[] };
const containerImages = (file: string): string[] => {
  const doc = parse(readFileSync(file, 'utf8')) as { spec: { template: { spec: { containers: { image: string }[] } } } };
  return doc.spec.template.spec.containers.map((c) => c.image);
};

describe('Kubernetes manifests', () => {
  it("deploy/doctor rewrites its Job's image exactly as deploy/base rewrites the Deployment's", () => {
    const base = kustomization('base').images ?? [];
    const doctor = kustomization('doctor').images ?? [];
    for (const image of containerImages('deploy/doctor/job.yaml')) {
      const rule = doctor.find((r) => r.name === image);
      assert.ok(rule, `deploy/doctor/kustomization.yaml has an images rule for ${image}`);
      assert.deepEqual(
        rule,
        base.find((r) => r.name === image),
        `the same rule as deploy/base for ${image}`,
      );
    }
    for (const image of containerImages('deploy/base/deployment.yaml')) {
      assert.ok(
        base.some((r) => r.name === image),
        `deploy/base/kustomization.yaml has an images rule for ${image}`,
      );
    }
  });
});
