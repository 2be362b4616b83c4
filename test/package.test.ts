// The built package (dist/, made by `npm test`'s pretest build) loads through its exports map from
// both module systems, and file:// saving works from the bundle.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();

describe('the built package', () => {
  it('has the files its exports map names', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const targets = [pkg.main, pkg.module, pkg.types, pkg.exports['.'].import.default, pkg.exports['.'].import.types, pkg.exports['.'].require.default, pkg.exports['.'].require.types];
    for (const target of targets) expect(existsSync(join(root, target)), `${target} (run npm run build)`).toBe(true);
  });

  it('loads with require() (CJS) and builds ResNet18 with its 11,173,962 parameters', () => {
    const out = run([
      '-e',
      `require('@tensorflow/tfjs-backend-cpu');
       const r = require('rmc-robust');
       const m = r.resnet18({ strides: '1-1-2-2' });
       console.log(r.countTrainableParams(m), JSON.stringify(r.featureMapShape(m)));`,
    ]);
    expect(out.split('\n').pop()).toBe('11173962 {"height":8,"width":8,"channels":512,"pooling":"avg"}');
  });

  it('loads with import (ESM), saves to file:// and loads back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rmc-pkg-'));
    try {
      const out = run([
        '--input-type=module',
        '-e',
        `import '@tensorflow/tfjs-backend-cpu';
         import * as tf from '@tensorflow/tfjs-core';
         import * as tfl from '@tensorflow/tfjs-layers';
         import { vgg16 } from 'rmc-robust';
         await tf.setBackend('cpu');
         const m = vgg16({ width: 1 / 16, strides: '1-1-2-2-2', upsample: { scale: 2 }, seed: 1 });
         await m.save('file://${dir}');
         const l = await tfl.loadLayersModel('file://${dir}/model.json');
         const x = tf.ones([1, 32, 32, 3]);
         const d = tf.max(tf.abs(tf.sub(m.predict(x), l.predict(x)))).dataSync()[0];
         console.log('max diff', d);`,
      ]);
      expect(out.split('\n').pop()).toBe('max diff 0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
