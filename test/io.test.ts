import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alexnet, BatchNorm2d, featureMapShape, fileSystem, preActResNet18, resnet18, vgg16, wideResNet, writeAtomic } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'rmc-io-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function roundTrip(model: tfl.LayersModel, dir: string, viaUrl: boolean) {
  if (viaUrl) await model.save(`file://${dir}`);
  else await model.save(fileSystem(dir));
  return viaUrl ? tfl.loadLayersModel(`file://${join(dir, 'model.json')}`) : tfl.loadLayersModel(fileSystem(dir));
}

describe('save and load round trip with no user code', () => {
  const cases: Array<[string, () => tfl.LayersModel]> = [
    ['resnet18 1-1-2-2, max pooling, bilinear upsample', () => resnet18({ width: 1 / 16, strides: '1122', pooling: 'max', upsample: { scale: 2, mode: 'bilinear' }, seed: 1 })],
    ['preActResNet18 nearest upsample', () => preActResNet18({ width: 1 / 16, upsample: { scale: 1.5 }, seed: 2 })],
    ['vgg16 1-1-2-2-2', () => vgg16({ width: 1 / 16, strides: '1-1-2-2-2', seed: 3 })],
    ['alexnet 1-1-2-2', () => alexnet({ width: 1 / 16, strides: '1-1-2-2', seed: 4 })],
    ['wideResNet', () => wideResNet({ depth: 10, widenFactor: 1, width: 0.5, seed: 5 })],
  ];

  it.each(cases.map(([name, build], i) => [name, i % 2 === 0, build] as const))(
    '%s gives identical logits after load (file:// URL: %s)',
    async (_name, viaUrl, build) => {
      const model = build();
      // Non-trivial running statistics, so they must survive the round trip too.
      tf.tidy(() => {
        model.apply(tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 9), { training: true });
      });
      const dir = join(root, `${model.name}-${viaUrl}`);
      const loaded = await roundTrip(model, dir, viaUrl);
      expect(readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
      const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 10);
      const a = model.predict(x) as tf.Tensor;
      const b = loaded.predict(x) as tf.Tensor;
      expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
      expect(loaded.name).toBe(model.name);
      expect(featureMapShape(loaded)).toEqual(featureMapShape(model));
      expect(loaded.layers.map((l) => l.getClassName())).toEqual(model.layers.map((l) => l.getClassName()));
      tf.dispose([x, a, b]);
      model.dispose();
      loaded.dispose();
    },
  );

  it('restores the custom layers with their configuration', async () => {
    const model = resnet18({ width: 1 / 16, upsample: { scale: 2, mode: 'bilinear' }, seed: 1 });
    const loaded = await roundTrip(model, join(root, 'config'), true);
    expect(loaded.getLayer('upsample').getConfig()).toMatchObject({ scale: 2, mode: 'bilinear' });
    expect(loaded.getLayer('normalize').getConfig()).toMatchObject({ mean: [0.4914, 0.4824, 0.4467] });
    const bn = loaded.getLayer('layer1.0.bn1') as BatchNorm2d;
    expect(bn).toBeInstanceOf(BatchNorm2d);
    expect([bn.momentum, bn.epsilon]).toEqual([0.1, 1e-5]);
    expect(loaded.trainableWeights.length).toBe(model.trainableWeights.length);
    model.dispose();
    loaded.dispose();
  });

  it('fails clearly on a truncated weights file and a missing model', async () => {
    const model = alexnet({ width: 1 / 16, seed: 1 });
    const dir = join(root, 'truncated');
    await model.save(fileSystem(dir));
    truncateSync(join(dir, 'weights.bin'), 100);
    await expect(tfl.loadLayersModel(fileSystem(dir))).rejects.toThrow(/weights of .*model\.json hold 100 bytes, the manifest needs \d+ \(truncated or corrupt file\)/);
    await expect(tfl.loadLayersModel(fileSystem(join(root, 'nowhere')))).rejects.toThrow(/cannot read model from .*nowhere\/model\.json/);
    writeFileSync(join(dir, 'model.json'), '{"format": "layers-model"}');
    await expect(tfl.loadLayersModel(fileSystem(dir))).rejects.toThrow(/is not a tfjs model\.json \(no modelTopology\)/);
    model.dispose();
  });

  it('writeAtomic replaces a file whole and leaves no temporary file, also on failure', async () => {
    const file = join(root, 'atomic.txt');
    await writeAtomic(file, 'first');
    await writeAtomic(file, 'second');
    expect(readFileSync(file, 'utf8')).toBe('second');
    await expect(writeAtomic(join(root, 'missing-dir', 'x.txt'), 'data')).rejects.toThrow(/ENOENT/);
    expect(readdirSync(root).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
