// Preloaded by scripts/run-tests.js (`--import`): every `import … from 'node:test'` in a test file
// gets scripts/test-timeout-node-test.js instead, whose tests have a default timeout. Node 20 has no per-test default:
// its `--test-timeout` bounds each whole file under `--test` and is ignored without it.
import { register } from 'node:module';

register('./test-timeout-hooks.js', import.meta.url);
