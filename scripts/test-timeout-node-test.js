// node:test, with `timeout` defaulting to TEST_TIMEOUT_MS for every test and hook that does not set
// its own (a suite's own option still bounds the suite as a whole).
import * as nodeTest from 'node:test';

export * from 'node:test';

const timeout = Number(process.env.TEST_TIMEOUT_MS) || Infinity;

/** A test function, `fn(name?, options?, body?)`, with `timeout` added to its options unless given. */
function testWithTimeout(fn) {
  const wrapped = (...args) => {
    const optionsAt = args.findIndex((a) => a !== null && typeof a === 'object');
    if (optionsAt >= 0) args[optionsAt] = { timeout, ...args[optionsAt] };
    else args.splice(typeof args[0] === 'string' ? 1 : 0, 0, { timeout });
    return fn(...args);
  };
  for (const key of ['skip', 'todo', 'only']) if (typeof fn[key] === 'function') wrapped[key] = testWithTimeout(fn[key]);
  return wrapped;
}

/** A hook, `hook(body, options?)`, likewise. */
const hookWithTimeout =
  (hook) =>
  (body, options = {}) =>
    hook(body, { timeout, ...options });

export const test = testWithTimeout(nodeTest.test);
export const it = testWithTimeout(nodeTest.it);
export const before = hookWithTimeout(nodeTest.before);
export const after = hookWithTimeout(nodeTest.after);
export const beforeEach = hookWithTimeout(nodeTest.beforeEach);
export const afterEach = hookWithTimeout(nodeTest.afterEach);
export default test;
