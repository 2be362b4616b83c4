/**
 * Dev script, step 1 of scripts/make-torch-fixture.sh: builds every fixture case with tfjs, gives its
 * batch norms random (non-trivial) statistics, and writes the weights as PyTorch state dicts plus a
 * fixed input batch to scripts/.cache/tfjs-models.json for scripts/torch_reference.py.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { exportTorchStateDict } from '../src/index.node.js';
import { BUILDERS, FIXTURE_CASES } from './fixture-cases.js';

await tf.setBackend('cpu');
const b64 = (data: Float32Array | number[]) => Buffer.from(new Float32Array(data).buffer).toString('base64');

const cases = FIXTURE_CASES.map((c, index) => {
  const model = BUILDERS[c.arch]({ ...c.options, seed: 100 + index });
  // Random batch-norm parameters and running statistics, so inference-mode BN is really exercised.
  let k = 0;
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNorm2d') continue;
    for (const w of layer.weights) {
      const leaf = w.originalName.split('/').pop();
      const [lo, hi] = leaf === 'gamma' || leaf === 'moving_variance' ? [0.5, 1.5] : [-0.2, 0.2];
      const value = tf.randomUniform(w.shape as number[], lo, hi, 'float32', 7000 + 97 * index + k++);
      w.write(value);
      value.dispose();
    }
  }
  // VGG16's dense kernels at He-uniform scale: its N(0, 0.01) init would make narrow copies' logits ~1e-5,
  // too small for a 1e-4 comparison to mean anything.
  for (const layer of model.layers) {
    if (c.arch !== 'vgg16' || layer.getClassName() !== 'Dense') continue;
    const kernel = layer.weights[0]!;
    const bound = Math.sqrt(6 / kernel.shape[0]!);
    const value = tf.randomUniform(kernel.shape as number[], -bound, bound, 'float32', 8000 + 97 * index + k++);
    kernel.write(value);
    value.dispose();
  }
  const [h, w, ch] = c.options.inputShape ?? [32, 32, 3];
  const batch = c.batch ?? 2;
  const input = tf.randomUniform([batch, h, w, ch], 0, 1, 'float32', 900 + index);
  const stateDict = Object.fromEntries(
    Object.entries(exportTorchStateDict(model)).map(([key, t]) => [key, { shape: t.shape, data: b64(t.data) }]),
  );
  const entry = {
    id: c.id,
    arch: c.arch,
    options: c.options,
    stateDict,
    input: { shape: input.shape, data: b64(input.dataSync() as Float32Array) },
    labels: Array.from({ length: batch }, (_, i) => (1 + 2 * i) % (c.options.numClasses ?? 10)),
    attacks: c.attacks ?? false,
  };
  input.dispose();
  model.dispose();
  return entry;
});

mkdirSync('scripts/.cache', { recursive: true });
writeFileSync('scripts/.cache/tfjs-models.json', JSON.stringify({ cases }));
console.log(`wrote ${cases.length} cases to scripts/.cache/tfjs-models.json`);
