// Module resolution hook (https://nodejs.org/docs/latest-v20.x/api/module.html#customization-hooks):
// 'node:test' resolves to test-timeout-node-test.js, except for that file itself.
const wrapper = new URL('./test-timeout-node-test.js', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'node:test' && context.parentURL !== wrapper) return { url: wrapper, shortCircuit: true };
  return nextResolve(specifier, context);
}
