// prepareCifar100 against a local HTTP server serving a small fixture tarball in the official layout
// (cifar-100-binary/train.bin, test.bin: records of coarse label, fine label, R, G, B planes).
import type { Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CIFAR100_MD5, parseCifarRecords, prepareCifar100 } from '../src/index.js';
import { cifar100Tarball, closedLoopbackPort, serveLocally, type Cifar100Md5s } from './helpers/local-server.js';

const work = mkdtempSync(join(tmpdir(), 'rmc-cifar100-test-'));

function records(count: number, seed: number): Uint8Array {
  const out = new Uint8Array(count * 3074);
  for (let i = 0; i < count; i++) {
    out[i * 3074] = (seed + i) % 20;
    out[i * 3074 + 1] = (seed * 7 + i) % 100;
    for (let p = 0; p < 3072; p++) out[i * 3074 + 2 + p] = (seed + i * 31 + p) % 256;
  }
  return out;
}

const train = records(5, 1);
const test = records(3, 2);
let expected: Cifar100Md5s;
let tarball: Uint8Array;
let server: Server;
let base: string;
const hits: string[] = [];

beforeAll(async () => {
  ({ tarball, expected } = await cifar100Tarball(work, train, test));
  ({ server, base } = await serveLocally((req, res) => {
    hits.push(req.url ?? '');
    if (req.url === '/cifar-100-binary.tar.gz') res.end(tarball);
    else if (req.url === '/truncated.tar.gz') res.end(tarball.subarray(0, 100));
    else {
      res.statusCode = 404;
      res.end('not found');
    }
  }));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(work, { recursive: true, force: true });
});

const fresh = (name: string) => join(work, name);

describe('prepareCifar100', () => {
  it('downloads, checks the tarball and the extracted files, writes them; a second call keeps them', async () => {
    const dir = fresh('download');
    const logs: string[] = [];
    const source = await prepareCifar100(dir, { url: `${base}/cifar-100-binary.tar.gz`, expectedMd5: expected, log: (m) => logs.push(m) });
    expect(source).toBe('download');
    expect(readFileSync(join(dir, 'train.bin'))).toEqual(Buffer.from(train));
    expect(readFileSync(join(dir, 'test.bin'))).toEqual(Buffer.from(test));
    expect(readdirSync(dir).sort()).toEqual(['test.bin', 'train.bin']);
    expect(parseCifarRecords(readFileSync(join(dir, 'train.bin')), 2).count).toBe(5);
    const before = hits.length;
    expect(await prepareCifar100(dir, { url: `${base}/cifar-100-binary.tar.gz`, expectedMd5: expected })).toBe('existing');
    expect(hits.length).toBe(before);
    expect(logs[0]).toMatch(/downloading http:\/\/127\.0\.0\.1/);
  });

  it('rejects a tarball whose md5 is not the official one, writing nothing', async () => {
    const dir = fresh('official-md5');
    await expect(prepareCifar100(dir, { url: `${base}/cifar-100-binary.tar.gz` })).rejects.toThrow(
      new RegExp(`md5 ${expected.tarball} of the tarball differs from the official 03b5dce01913d631647c71ecec9e9cb8`),
    );
    await expect(prepareCifar100(dir, { url: `${base}/truncated.tar.gz`, expectedMd5: expected })).rejects.toThrow(/of the tarball differs/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('rejects extracted files whose md5 differs (official file md5s by default)', async () => {
    const dir = fresh('file-md5');
    await expect(prepareCifar100(dir, { url: `${base}/cifar-100-binary.tar.gz`, expectedMd5: { tarball: expected.tarball, files: CIFAR100_MD5 as typeof expected.files } })).rejects.toThrow(
      /md5 [0-9a-f]{32} of the extracted train\.bin differs from the official 6172c7755cfe09b2fe270c85cebc1b15/,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('says when the site is unreachable or answers an error, and points to a local directory', async () => {
    const dir = fresh('unreachable');
    const port = await closedLoopbackPort();
    await expect(prepareCifar100(dir, { url: `http://127.0.0.1:${port}/cifar-100-binary.tar.gz` })).rejects.toThrow(
      /cannot download CIFAR-100: http:\/\/127\.0\.0\.1:\d+\/cifar-100-binary\.tar\.gz is not reachable \(ECONNREFUSED\)\. .*--from <dir>.*shared\/data\/cifar-100-binary/,
    );
    await expect(prepareCifar100(dir, { url: `${base}/missing.tar.gz` })).rejects.toThrow(/is not reachable \(HTTP 404 Not Found\)/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('copies from a local directory, gunzipping .gz files, and checks their md5s', async () => {
    const from = fresh('local-src');
    mkdirSync(from);
    writeFileSync(join(from, 'train.bin.gz'), gzipSync(train));
    writeFileSync(join(from, 'test.bin'), test);
    const dir = fresh('local');
    expect(await prepareCifar100(dir, { from, expectedMd5: expected })).toBe('local');
    expect(readFileSync(join(dir, 'train.bin'))).toEqual(Buffer.from(train));
    expect(readFileSync(join(dir, 'test.bin'))).toEqual(Buffer.from(test));
    // The official md5s reject the fixture before anything is written.
    const other = fresh('local-official');
    await expect(prepareCifar100(other, { from })).rejects.toThrow(/train\.bin\.gz: md5 [0-9a-f]{32} of train\.bin differs from the official 6172c7755cfe09b2fe270c85cebc1b15/);
    expect(readdirSync(other)).toEqual([]);
    await expect(prepareCifar100(fresh('local-missing'), { from: join(work, 'nowhere') })).rejects.toThrow(/from = '.*nowhere': cannot read train\.bin or train\.bin\.gz \(ENOENT\)/);
    expect(existsSync(join(work, 'nowhere'))).toBe(false);
  });
});
