/**
 * Files shipped with the package (the native addon, the embedded data sample), found by walking up
 * from this module's location (`src/...` in development, `dist/` when installed).
 */

type Builtins = { fs: typeof import('node:fs'); path: typeof import('node:path'); url: typeof import('node:url') };

/** Node's built-ins through `process.getBuiltinModule` (Node >= 20.16), or null elsewhere. */
export function nodeBuiltins(): Builtins | null {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  if (typeof get !== 'function') return null;
  return { fs: get('node:fs') as Builtins['fs'], path: get('node:path') as Builtins['path'], url: get('node:url') as Builtins['url'] };
}

/** The absolute path of `relative` (e.g. `data/cifar10-sample/train.bin`) in the package, or null. */
export function packageFile(relative: string, from: string = import.meta.url): string | null {
  const node = nodeBuiltins();
  if (!node) return null;
  let dir = node.path.dirname(node.url.fileURLToPath(from));
  for (let i = 0; i < 5; i++) {
    const candidate = node.path.join(dir, relative);
    if (node.fs.existsSync(candidate)) return candidate;
    dir = node.path.dirname(dir);
  }
  return null;
}
