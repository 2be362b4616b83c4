import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';

/** The file operations that change a directory (what a crash can interrupt). */
export type FileOp = 'writeFile' | 'rename' | 'rm' | 'mkdir';
const OPS: FileOp[] = ['writeFile', 'rename', 'rm', 'mkdir'];

/**
 * Runs `before(op, path)` ahead of every `node:fs/promises` writeFile, rename, rm and mkdir of this
 * process (the library imports them by name; Node's syncBuiltinESMExports makes those names see the
 * replacement). `before` may throw an error for the operation instead of running it; for writeFile,
 * `partial: true` on the error writes the first half of the data first, as a disk filling up would.
 * Returns the function that puts the originals back.
 */
export function interceptFileOps(before: (op: FileOp, path: string) => void): () => void {
  const fs = fsp as unknown as Record<FileOp, (...args: unknown[]) => Promise<unknown>>;
  const originals = Object.fromEntries(OPS.map((op) => [op, fs[op]])) as typeof fs;
  for (const op of OPS) {
    fs[op] = async (...args: unknown[]) => {
      try {
        before(op, String(args[0]));
      } catch (e) {
        if (op === 'writeFile' && (e as { partial?: boolean }).partial) {
          const data = args[1] as string | Uint8Array;
          await originals.writeFile(args[0], data.slice(0, Math.floor(data.length / 2)));
        }
        throw e;
      }
      return originals[op]!(...args);
    };
  }
  syncBuiltinESMExports();
  return () => {
    Object.assign(fs, originals);
    syncBuiltinESMExports();
  };
}

/** An error as Node reports a full disk: code ENOSPC, and a message that names no path. */
export function noSpace(): Error {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write', partial: true });
}
