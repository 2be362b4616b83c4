/**
 * Process-wide "do this once", shared by every copy of the package in one process (its ESM and its
 * CommonJS build can both be loaded, each with its own module state): the mark lives on `globalThis`
 * under a registered symbol.
 */

/** Runs `action` unless some copy of the package already ran the action named `key`; returns whether it ran. @internal */
export function oncePerProcess(key: string, action: () => void): boolean {
  const mark = Symbol.for(`rmc-robust:${key}`);
  const global = globalThis as Record<symbol, unknown>;
  if (global[mark]) return false;
  global[mark] = true;
  action();
  return true;
}

/** The value stored under `key` by the first copy of the package that asked, made by `create` then. @internal */
export function sharedPerProcess<T>(key: string, create: () => T): T {
  const mark = Symbol.for(`rmc-robust:${key}`);
  const global = globalThis as Record<symbol, unknown>;
  if (!(mark in global)) global[mark] = create();
  return global[mark] as T;
}
