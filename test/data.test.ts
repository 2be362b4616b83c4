// CIFAR readers on small fixtures in the official binary format built here, and the embedded sample.
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CIFAR10_CLASSES, imagesToTensor, loadCifar10, loadCifar100, loadCifar10Sample, md5, parseCifarRecords } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'rmc-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** CIFAR records: label byte(s), then R, G and B planes; pixel p of image i has R = (i + p) % 256, G = 2p % 256, B = i. */
function records(labels: number[][], labelBytes: 1 | 2): Uint8Array {
  const size = labelBytes + 3072;
  const out = new Uint8Array(labels.length * size);
  labels.forEach((ls, i) => {
    const r = i * size;
    ls.forEach((l, k) => (out[r + k] = l));
    for (let p = 0; p < 1024; p++) {
      out[r + labelBytes + p] = (i + p) % 256;
      out[r + labelBytes + 1024 + p] = (2 * p) % 256;
      out[r + labelBytes + 2048 + p] = i;
    }
  });
  return out;
}

describe('CIFAR binary records', () => {
  it('CIFAR-10 records become NHWC images and labels', () => {
    const split = parseCifarRecords(records([[3], [8], [0]], 1), 1);
    expect(split.count).toBe(3);
    expect(Array.from(split.labels)).toEqual([3, 8, 0]);
    // Image 1, pixel 5 (row 0, column 5): R = 6, G = 10, B = 1, interleaved.
    expect(Array.from(split.images.subarray(3072 + 15, 3072 + 18))).toEqual([6, 10, 1]);
    const x = imagesToTensor(split, 1, 2);
    expect(x.shape).toEqual([2, 32, 32, 3]);
    expect(Array.from(x.dataSync().subarray(15, 18))).toEqual([6 / 255, 10 / 255, 1 / 255].map(Math.fround));
    x.dispose();
  });

  it('CIFAR-100 records carry coarse then fine labels', () => {
    const split = parseCifarRecords(records([[11, 19], [3, 80]], 2), 2);
    expect(Array.from(split.labels)).toEqual([19, 80]);
    expect(Array.from(split.coarseLabels!)).toEqual([11, 3]);
  });

  it('fails clearly on truncated and corrupt data', () => {
    const data = records([[1], [2]], 1);
    expect(() => parseCifarRecords(data.subarray(0, 5000), 1, 'x.bin')).toThrow(/x\.bin: 5000 bytes is not a whole number of 3073-byte CIFAR records \(truncated/);
    data[3073] = 12;
    expect(() => parseCifarRecords(data, 1, 'x.bin')).toThrow(/record 1 has label 12 > 9 \(corrupt file\)/);
    expect(() => imagesToTensor(parseCifarRecords(records([[1]], 1), 1), 0, 2)).toThrow(/must select images within \[0, 1\)/);
  });

  it('loaders check presence, size and md5, naming the file', async () => {
    await expect(loadCifar10(join(dir, 'nowhere'), { split: 'test' })).rejects.toThrow(/test_batch\.bin: cannot read \(ENOENT\); run `rmc-robust prepare`/);
    writeFileSync(join(dir, 'test_batch.bin'), records([[1]], 1));
    await expect(loadCifar10(dir, { split: 'test' })).rejects.toThrow(/test_batch\.bin: md5 [0-9a-f]{32} differs from the official 803d5f7f4d78ea53de84dbe85f74fb6d/);
    await expect(loadCifar10(dir, { split: 'test', verify: false })).rejects.toThrow(/3073 bytes, expected 30,730,000/);
    const { gzipSync } = await import('node:zlib');
    writeFileSync(join(dir, 'test.bin.gz'), gzipSync(records([[1, 2]], 2)));
    await expect(loadCifar100(dir, { split: 'test' })).rejects.toThrow(/test\.bin\.gz: md5 .* differs from the official 4499cfba6c016c1be1438163640a0898/);
    writeFileSync(join(dir, 'train.bin.gz'), 'not gzip');
    await expect(loadCifar100(dir)).rejects.toThrow(/train\.bin\.gz: not a valid gzip file/);
  });
});

describe('the embedded CIFAR-10 sample', () => {
  it.each([
    ['train', 2000, 200],
    ['test', 1000, 100],
  ] as const)('%s: %i real images, %i per class, md5-checked', async (split, count, perClass) => {
    const data = await loadCifar10Sample(split);
    expect(data.count).toBe(count);
    const perLabel = new Array(10).fill(0);
    data.labels.forEach((l) => perLabel[l]++);
    expect(perLabel).toEqual(new Array(10).fill(perClass));
    expect(CIFAR10_CLASSES.length).toBe(10);
    // Real photographs, not constant fills: pixel statistics of natural images.
    const x = imagesToTensor(data, 0, 100);
    const mean = tf.mean(x).dataSync()[0]!;
    expect(mean).toBeGreaterThan(0.35);
    expect(mean).toBeLessThan(0.6);
    x.dispose();
    expect(await md5(new Uint8Array([1, 2, 3]))).toBe('5289df737df57326fcdd22597afb1fac');
  });
});
