// The universal build's own ways to data, for runtimes without Node's file system: md5 in JS, gzip
// through DecompressionStream, CIFAR and the embedded sample from URLs (fetch) or bytes.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gunzipIfNamed } from '../src/data/cifar.js';
import { md5Hex } from '../src/data/md5.js';
import { loadCifar100, loadCifar10Sample, mulberry32 } from '../src/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const sampleTest = readFileSync(join(root, 'data', 'cifar10-sample', 'test.bin'));
/** A CIFAR-100 test split in the official record format (coarse label, fine label, 3072 pixels), seeded. */
function syntheticCifar100Test(): Uint8Array {
  const random = mulberry32(7);
  const data = new Uint8Array(10_000 * 3074);
  for (let r = 0; r < 10_000; r++) {
    data[r * 3074] = r % 20;
    data[r * 3074 + 1] = (r * 37) % 100;
    for (let p = 2; p < 3074; p += 97) data[r * 3074 + p] = Math.floor(random() * 256);
  }
  return data;
}

let server: Server;
let base = '';
const files = new Map<string, Uint8Array>();
beforeAll(async () => {
  server = createServer((request, response) => {
    const body = files.get(request.url ?? '');
    if (!body) return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('md5 in JS', () => {
  it('equals node:crypto on every padding case and random data', () => {
    const random = mulberry32(3);
    const lengths = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 65_537];
    for (let i = 0; i < 20; i++) lengths.push(Math.floor(random() * 5000));
    for (const n of lengths) {
      const data = Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
      expect(md5Hex(data), `length ${n}`).toBe(createHash('md5').update(data).digest('hex'));
    }
    // RFC 1321's test suite.
    expect(md5Hex(new TextEncoder().encode('abc'))).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect(md5Hex(new TextEncoder().encode('message digest'))).toBe('f96b697d7cb7938d525a2f31aaf161d0');
  });

  it('on a view into a larger buffer, hashes the view only', () => {
    const buffer = Uint8Array.from({ length: 300 }, (_, i) => i & 255);
    const view = buffer.subarray(17, 250);
    expect(md5Hex(view)).toBe(createHash('md5').update(view).digest('hex'));
  });
});

describe('gunzip through DecompressionStream', () => {
  it('restores what zlib compressed, and names the file that is not gzip', async () => {
    const data = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31) & 255);
    expect(Buffer.from(await gunzipIfNamed('x.bin.gz', gzipSync(data))).equals(Buffer.from(data))).toBe(true);
    expect(await gunzipIfNamed('x.bin', data)).toBe(data);
    await expect(gunzipIfNamed('broken.bin.gz', data)).rejects.toThrow(/broken\.bin\.gz: not a valid gzip file/);
  });
});

describe('loading from URLs and bytes', () => {
  it('loadCifar10Sample takes { url } or { bytes } and gives what Node reads from the package', async () => {
    files.set('/assets/test.bin', sampleTest);
    const fromPackage = await loadCifar10Sample('test');
    const fromUrl = await loadCifar10Sample('test', { url: `${base}/assets/test.bin` });
    const fromBytes = await loadCifar10Sample('test', { bytes: sampleTest.buffer.slice(sampleTest.byteOffset, sampleTest.byteOffset + sampleTest.byteLength) });
    for (const loaded of [fromUrl, fromBytes]) {
      expect(loaded.count).toBe(1000);
      expect(Buffer.from(loaded.images).equals(Buffer.from(fromPackage.images))).toBe(true);
      expect(Array.from(loaded.labels)).toEqual(Array.from(fromPackage.labels));
    }
  });

  it('loadCifar10Sample names the URL on HTTP errors and refuses corrupt bytes and bad splits', async () => {
    await expect(loadCifar10Sample('test', { url: `${base}/missing.bin` })).rejects.toThrow(/missing\.bin: HTTP 404/);
    const corrupt = Uint8Array.from(sampleTest);
    corrupt[5] = corrupt[5]! ^ 1;
    await expect(loadCifar10Sample('test', { bytes: corrupt })).rejects.toThrow(/md5 .* differs from 86e952e70fdd52c86866d92514f30b33 \(corrupt sample\)/);
    await expect(loadCifar10Sample('validation' as never)).rejects.toThrow(/split 'validation': accepted values are 'train', 'test'/);
  });

  it('loadCifar100 fetches test.bin from a base URL as it reads a directory (there gzipped), and checks the md5', async () => {
    const plain = syntheticCifar100Test();
    files.set('/cifar100/test.bin', plain);
    const split = await loadCifar100(`${base}/cifar100/`, { split: 'test', verify: false });
    expect(split.count).toBe(10_000);
    const dir = mkdtempSync(join(tmpdir(), 'rmc-cifar100-'));
    try {
      writeFileSync(join(dir, 'test.bin.gz'), gzipSync(plain));
      const fromDisk = await loadCifar100(dir, { split: 'test', verify: false });
      expect(Buffer.from(split.images).equals(Buffer.from(fromDisk.images))).toBe(true);
      expect(Array.from(split.labels)).toEqual(Array.from(fromDisk.labels));
      expect(Array.from(split.coarseLabels!)).toEqual(Array.from(fromDisk.coarseLabels!));
      expect(split.labels[3]).toBe(11);
      expect(split.coarseLabels![3]).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Not the official file: the md5 check (on by default) names the URL.
    await expect(loadCifar100(new URL(`${base}/cifar100`), { split: 'test' })).rejects.toThrow(/\/cifar100\/test\.bin: md5 .* differs from the official 4499cfba6c016c1be1438163640a0898/);
    files.set('/bad/test.bin', plain.subarray(0, 3074 * 10));
    await expect(loadCifar100(`${base}/bad`, { split: 'test', verify: false })).rejects.toThrow(/\/bad\/test\.bin: 30740 bytes, expected 30740000/);
  });
});
