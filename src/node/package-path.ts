/**
 * Files shipped with the package (the native addon, the embedded data sample), found by walking up
 * from this module's location (`src/node/` in development, `dist/esm/node/` or `dist/cjs/` when
 * installed).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The absolute path of `relative` (e.g. `data/cifar10-sample/train.bin`) in the package, or null. */
export function packageFile(relative: string, from: string = import.meta.url): string | null {
  let dir = dirname(fileURLToPath(from));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return null;
}
