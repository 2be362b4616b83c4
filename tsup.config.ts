import { defineConfig } from 'tsup';

export default defineConfig([{
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  target: 'node20',
  shims: true,
  // tfjs stays a peer: never bundle it, so the user's backend registry is the one we use.
  external: [/^@tensorflow\//],
}, {
  // The command line: ESM only, with a shebang.
  entry: { cli: 'src/cli/main.ts' },
  format: ['esm'],
  sourcemap: true,
  target: 'node20',
  shims: true,
  banner: { js: '#!/usr/bin/env node' },
  external: [/^@tensorflow\//],
}]);
