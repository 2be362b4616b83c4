import { defineConfig } from 'tsup';

// The CommonJS build, for `require('rmc-robust')`: one bundle per entry (dist/cjs/index.cjs, the
// universal API; dist/cjs/index.node.cjs, the same with the Node services), with rolled-up declarations
// (.d.cts); dist/cjs/sweep.cjs, `rmc-robust/sweep`. The ESM build is tsc's, one file per module (tsconfig.build.json).
export default defineConfig({
  entry: { index: 'src/index.ts', 'index.node': 'src/index.node.ts', sweep: 'src/sweep.ts' },
  outDir: 'dist/cjs',
  format: ['cjs'],
  dts: true,
  sourcemap: true,
  target: 'node20',
  shims: true,
  splitting: false,
  // tfjs stays a peer: never bundled, so the user's backend registry is the one we use.
  external: [/^@tensorflow\//],
  // package.json's sideEffects names the ESM build's files; esbuild would apply it to src/ as well and
  // drop the side-effect imports (src/node/register.ts, src/backend/register.ts) from the bundles.
  esbuildOptions(options) {
    options.ignoreAnnotations = true;
  },
});
