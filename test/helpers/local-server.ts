// Local HTTP fixtures for the download tests: a CIFAR-100 tarball in the official layout, a server on
// the loopback interface, and a loopback port nothing listens on.
import { spawnSync } from 'node:child_process';
import { createServer, type RequestListener, type Server } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { md5 } from '../../src/index.js';

/** The md5s prepareCifar100 checks (`expectedMd5`). */
export interface Cifar100Md5s {
  tarball: string;
  files: { 'train.bin': string; 'test.bin': string };
}

/** `cifar-100-binary/{train,test}.bin` tarred and gzipped under `work`, with the md5s to expect. */
export async function cifar100Tarball(work: string, train: Uint8Array, test: Uint8Array): Promise<{ tarball: Uint8Array; expected: Cifar100Md5s }> {
  const src = join(work, 'src');
  mkdirSync(join(src, 'cifar-100-binary'), { recursive: true });
  writeFileSync(join(src, 'cifar-100-binary', 'train.bin'), train);
  writeFileSync(join(src, 'cifar-100-binary', 'test.bin'), test);
  const tar = spawnSync('tar', ['-czf', join(work, 'fixture.tar.gz'), 'cifar-100-binary'], { cwd: src });
  if (tar.status !== 0) throw new Error(`tar failed: ${String(tar.stderr)}`);
  const tarball = readFileSync(join(work, 'fixture.tar.gz'));
  return { tarball, expected: { tarball: await md5(tarball), files: { 'train.bin': await md5(train), 'test.bin': await md5(test) } } };
}

/** A server for `handler` on 127.0.0.1 and its base URL (`http://127.0.0.1:<port>`). */
export async function serveLocally(handler: RequestListener): Promise<{ server: Server; base: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A loopback port nothing listens on: taken by a server, then released. */
export async function closedLoopbackPort(): Promise<number> {
  const { server, base } = await serveLocally(() => {});
  await new Promise((resolve) => server.close(resolve));
  return Number(new URL(base).port);
}
