// robustAccuracy on a uint8 source (a CIFAR split) converts each batch on the fly and gives exactly the
// numbers of the float path.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { deepfoolAttack, fgsmAttack, imagesToTensor, loadCifar10Sample, pgdAttack, robustAccuracy, type CifarSplit } from '../src/index.js';

// A linear model on all 3072 pixels: every pixel moves the logits, so any difference in the float
// images would show in the predictions. It records the sum of every batch it sees.
const w = tf.randomNormal([32 * 32 * 3, 10], 0, 0.05, 'float32', 3);
const seen: number[][] = [[]];
const model = (x: tf.Tensor4D) => {
  seen[seen.length - 1]!.push(tf.tidy(() => tf.sum(x).dataSync()[0]!));
  return tf.matMul(tf.reshape(x, [x.shape[0], -1]), w);
};
afterAll(() => w.dispose());

const attacks = () => [fgsmAttack(), pgdAttack({ name: 'PGD-3', steps: 3, relStepSize: 0.25, seed: 4 }), deepfoolAttack({ steps: 5 })];

describe('robustAccuracy on a uint8 source', () => {
  it('is bit-identical to the float path, batch by batch, and leaks no tensors', async () => {
    const test = await loadCifar10Sample('test');
    const n = 45;
    const split: CifarSplit = { images: test.images.subarray(0, n * 3072), labels: test.labels.subarray(0, n), count: n };
    const x = imagesToTensor(test, 0, n);
    const y = Array.from(split.labels);
    const before = tf.memory().numTensors;
    seen.length = 0;
    seen.push([]);
    const fromFloat = robustAccuracy(model, { x, y }, attacks(), { eps: 8 / 255, batchSize: 20 });
    seen.push([]);
    const progress: number[] = [];
    const fromBytes = robustAccuracy(model, split, attacks(), { eps: 8 / 255, batchSize: 20, onProgress: (done) => progress.push(done) });
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    expect(fromBytes).toEqual(fromFloat);
    expect(progress).toEqual([20, 40, 45]);
    // The attacks saw the very same float batches (the uint8 path adds one validation call first).
    expect(seen[1]!.slice(-seen[0]!.length)).toEqual(seen[0]);
    expect(seen[0]!.length).toBeGreaterThan(3);
    // Not a degenerate comparison: the model gets some right and the attacks change something.
    expect(fromFloat.clean).toBeGreaterThan(0);
    expect(fromFloat.worstCase).toBeLessThan(fromFloat.clean);
  });

  it('rejects malformed sources with the argument named', async () => {
    const test = await loadCifar10Sample('test');
    const labels = test.labels.subarray(0, 4);
    expect(() => robustAccuracy(model, { images: test.images.subarray(0, 3 * 3072), labels, count: 4 }, [fgsmAttack()], { eps: 0.1 })).toThrow(/data.images: 9216 bytes hold fewer than data.count = 4/);
    expect(() => robustAccuracy(model, { images: test.images, labels, count: 0 }, [fgsmAttack()], { eps: 0.1 })).toThrow(/data.count = 0: must be an integer >= 1/);
    expect(() => robustAccuracy(model, { images: test.images, labels, count: 5 }, [fgsmAttack()], { eps: 0.1 })).toThrow(/data.labels: has 4 labels for 5 images/);
    expect(() => robustAccuracy(model, { images: test.images, labels: [0, 1, 2, 10], count: 4 }, [fgsmAttack()], { eps: 0.1 })).toThrow(/data.labels/);
    expect(() => robustAccuracy(model, { images: test.images, labels, count: 4 }, [fgsmAttack({ bounds: [0, 0.5] })], { eps: 0.1 })).toThrow(/bounds = \[0, 0.5\]/);
  });
});
