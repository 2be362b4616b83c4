// safetensors both ways (issue #17): a file written from PyTorch loads here with PyTorch's logits; the
// package's exportSafetensors writes the very file that scripts/torch_checkpoints.py verify loaded into
// PyTorch with identical tensors (load_state_dict(strict=True), identical logits).
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { exportSafetensors, loadSafetensors, loadTorchCheckpoint, readSafetensors, resnet18, writeSafetensors } from '../src/index.js';
import { decode, maxAbsDiff } from './helpers/fixture.js';
import { buildCase, fixtureBytes, manifest } from './helpers/torch-checkpoints.js';

describe('safetensors from PyTorch', () => {
  const c = manifest.safetensors;

  it('loads with PyTorch\'s logits within 1e-4; its int64 counters are skipped', () => {
    const model = buildCase(c);
    const report = loadSafetensors(model, fixtureBytes(c.file));
    expect(report.missing).toEqual([]);
    expect(report.unexpected).toEqual([]);
    expect(report.skipped.length).toBe(20);
    const x = tf.tensor(decode(manifest.input), manifest.input.shape);
    const y = model.predict(x) as tf.Tensor;
    expect(maxAbsDiff(y.dataSync(), decode(c.logits))).toBeLessThan(1e-4);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('reads the header: dtypes and metadata', () => {
    const { dtypes, metadata } = readSafetensors(fixtureBytes(c.file));
    expect(new Set(Object.values(dtypes))).toEqual(new Set(['float32', 'int64']));
    expect(metadata).toEqual({ format: 'pt' });
  });
});

describe('safetensors to PyTorch', () => {
  it('exportSafetensors writes, byte for byte, the file PyTorch loaded with identical tensors', () => {
    const verified = fixtureBytes(manifest.fromTfjs.file);
    // The committed file is the one the dev script checked in PyTorch.
    expect(createHash('sha256').update(verified).digest('hex')).toBe(manifest.fromTfjs.sha256);
    const source = manifest.cases.find((k) => k.file === manifest.fromTfjs.source)!;
    const model = buildCase(source);
    loadTorchCheckpoint(model, fixtureBytes(source.file));
    const before = tf.memory().numTensors;
    const written = exportSafetensors(model);
    expect(tf.memory().numTensors).toBe(before);
    expect(written.length).toBe(verified.length);
    expect(Buffer.from(written).equals(Buffer.from(verified))).toBe(true);
    model.dispose();
  });

  it('the header is 8-byte aligned JSON, tensors in name order with contiguous offsets', () => {
    const bytes = exportSafetensors(resnet18({ width: 1 / 32, seed: 3 }), { note: 'x' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { dtype: string; data_offsets: [number, number] }>;
    const { __metadata__: metadata, ...tensors } = header;
    expect(metadata).toEqual({ format: 'pt', note: 'x' });
    const names = Object.keys(tensors);
    expect(names).toEqual([...names].sort());
    let end = 0;
    for (const name of names) {
      expect(tensors[name]!.dtype).toBe('F32');
      expect(tensors[name]!.data_offsets[0]).toBe(end);
      end = tensors[name]!.data_offsets[1];
    }
    expect(8 + n + end).toBe(bytes.length);
  });

  it('round trip: a fresh model loaded from the export has the same weights', () => {
    const a = resnet18({ width: 1 / 32, seed: 1 });
    const b = resnet18({ width: 1 / 32, seed: 2 });
    loadSafetensors(b, exportSafetensors(a));
    a.getWeights().forEach((w, i) => expect(maxAbsDiff(w.dataSync(), b.getWeights()[i]!.dataSync())).toBe(0));
    a.dispose();
    b.dispose();
  });
});

describe('bad safetensors files give clear errors', () => {
  const good = writeSafetensors({ w: { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) } });
  const withHeader = (header: unknown, data = new Uint8Array(24)) => {
    const json = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    out.set(data, 8 + json.length);
    return out;
  };

  it('reads back what it wrote', () => {
    expect(Array.from(readSafetensors(good).tensors['w']!.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('every truncation is an error', () => {
    for (let n = 0; n < good.length; n++) expect(() => readSafetensors(good.subarray(0, n)), `cut at ${n}`).toThrow(/^readSafetensors: .*(too short|exceeds the file|not valid JSON|truncated)/);
  });

  it('malformed headers name the problem', () => {
    expect(() => readSafetensors(withHeader({ w: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }))).toThrow(/dtype "F8" is not supported/);
    expect(() => readSafetensors(withHeader({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }))).toThrow(/hold 20 bytes, shape \[2,3\] of float32 needs 24/);
    expect(() => readSafetensors(withHeader({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }))).toThrow(/shape \[-1\] is not a list of non-negative integers/);
    expect(() => readSafetensors(withHeader([1, 2]))).toThrow(/header is not a JSON object/);
    expect(() => readSafetensors(withHeader({ __metadata__: { a: 1 } }))).toThrow(/__metadata__ must map strings to strings/);
    const huge = good.slice();
    new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true);
    expect(() => readSafetensors(huge)).toThrow(/header length 1099511627776 exceeds the file/);
  });

  it('a "__proto__" tensor name stays a key', () => {
    const bytes = new TextEncoder().encode('{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}');
    const file = new Uint8Array(8 + bytes.length + 4);
    new DataView(file.buffer).setBigUint64(0, BigInt(bytes.length), true);
    file.set(bytes, 8);
    const { tensors } = readSafetensors(file);
    expect(Object.keys(tensors)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(tensors)).toBe(Object.prototype);
  });
});
