// The built package (dist/, made by `npm test`'s pretest build) loads through its exports map from
// both module systems, and file:// saving works from the bundle.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();

describe('the built package', () => {
  it('has the files its exports map names', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const dot = pkg.exports['.'];
    const targets = [pkg.main, pkg.module, pkg.types, pkg.bin['rmc-robust']];
    for (const entry of [dot.node.import, dot.node.require, dot.import, dot.require]) targets.push(entry.types, entry.default);
    for (const target of targets) expect(existsSync(join(root, target)), `${target} (run npm run build)`).toBe(true);
  });

  it('registers its kernels once when both the ESM and the CommonJS build load, and both report the same pack', () => {
    // tfjs warns "The kernel '...' for backend 'cpu' is already registered" on a second registration.
    const result = spawnSync(process.execPath, [
      '--input-type=module',
      '-e',
      `import '@tensorflow/tfjs-backend-cpu';
       import { createRequire } from 'node:module';
       import * as esm from 'rmc-robust';
       const cjs = createRequire(import.meta.url)('rmc-robust');
       esm.resnet18({ width: 0.125 }); cjs.resnet18({ width: 0.125 });
       console.log(esm.resnet18 !== cjs.resnet18, JSON.stringify(esm.backendInfo()) === JSON.stringify(cjs.backendInfo()), esm.backendInfo().kernels.Add);`,
    ], { cwd: root, encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n').pop()).toMatch(/^true true (native|fast-js)$/);
    expect(result.stderr).not.toMatch(/already registered/);
  });

  it('RMC_THREADS sets the native kernels\' OpenMP thread count before the addon loads; a bad value is reported and ignored', () => {
    const script = `import '@tensorflow/tfjs-backend-cpu';
       import { backendInfo } from 'rmc-robust';
       backendInfo();
       console.log(process.env.OMP_NUM_THREADS ?? 'unset');`;
    const withThreads = (value: string) => spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root, encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '', RMC_THREADS: value },
    });
    const one = withThreads('1');
    expect(one.stdout.trim().split('\n').pop()).toBe('1');
    const bad = withThreads('two');
    expect(bad.stdout.trim().split('\n').pop()).toBe('');
    expect(bad.stderr).toMatch(/RMC_THREADS = 'two' is not an integer >= 1; using OpenMP's default thread count/);
  });

  it('its universal build, loaded in Node without the node condition, says what is missing instead of failing obscurely', () => {
    const out = run([
      '--input-type=module',
      '-e',
      `import '@tensorflow/tfjs-backend-cpu';
       const r = await import('./dist/esm/index.js');
       for (const call of [() => r.loadCifar10Sample('test'), () => r.fileSystem('x'), () => r.loadCifar10('./data')]) {
         try { await call(); console.log('no error'); } catch (e) { console.log(e.message); }
       }
       console.log(r.backendInfo().native.reason);`,
    ]).split('\n');
    expect(out[0]).toMatch(/^loadCifar10Sample: outside Node pass \{ url \}/);
    expect(out[1]).toMatch(/^fileSystem: this copy of rmc-robust is its browser build \(the bundler or loader did not apply the "node" export condition\)/);
    expect(out[2]).toMatch(/^reading CIFAR files: this copy of rmc-robust is its browser build/);
    expect(out[3]).toMatch(/the browser build of rmc-robust is loaded/);
  });

  it('loads with require() (CJS), builds ResNet18 with its 11,173,962 parameters, has its kernel pack and the embedded sample', () => {
    const out = run([
      '-e',
      `require('@tensorflow/tfjs-backend-cpu');
       const r = require('rmc-robust');
       const m = r.resnet18({ strides: '1-1-2-2' });
       console.log(r.countTrainableParams(m), JSON.stringify(r.featureMapShape(m)));
       console.log(r.backendInfo().kernels.Add);
       r.loadCifar10Sample('test').then((s) => console.log(s.count));`,
    ]).split('\n');
    expect(out.slice(-3)).toEqual(['11173962 {"height":8,"width":8,"channels":512,"pooling":"avg"}', expect.stringMatching(/^(native|fast-js)$/), '1000']);
  });

  it('its declarations import no deep path of a dependency (those do not resolve under nodenext)', () => {
    const deep: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/\.d\.c?ts$/.test(entry.name)) {
          for (const match of readFileSync(path, 'utf8').matchAll(/(?:from |import\()["'](@tensorflow\/[^/"']+\/[^"']+)["']/g)) deep.push(`${path}: ${match[1]}`);
        }
      }
    };
    walk(join(root, 'dist'));
    expect(deep).toEqual([]);
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
