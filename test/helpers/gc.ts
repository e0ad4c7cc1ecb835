/**
 * Which objects the garbage collector has let go: for tests that the proxy stops holding a value
 * (a message body) as soon as nothing should need it. V8's gc() is exposed at run time, so that
 * these tests run under a plain `node --test`.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** How many of the referenced objects are still alive after a full collection. */
export async function stillAlive(refs: readonly WeakRef<object>[]): Promise<number> {
  // a WeakRef keeps its target until the job that created or read it ends
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  return refs.filter((r) => r.deref() !== undefined).length;
}
