/**
 * CIFAR-10 and CIFAR-100 in their official binary format: readers that check sizes and md5s, and a
 * compact in-memory form (uint8 NHWC) from which float batches are cut one at a time, so the data set
 * is never held twice.
 */
import * as tf from '@tensorflow/tfjs-core';
import { nodePlatform } from '../io/platform.js';
import { download } from './download.js';
import { md5Hex } from './md5.js';

/** CIFAR-10 class names, in label order. */
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;

/** md5 of the official CIFAR-10 binary files (shared/reference/datasets.md). */
export const CIFAR10_MD5: Readonly<Record<string, string>> = {
  'data_batch_1.bin': '5dd7e06a14cb22eb9f671a540d1b7c25',
  'data_batch_2.bin': '5ea93a67294ea407fff1d09f752e9692',
  'data_batch_3.bin': '942cd6a4bcdd0dd3c604fbe906cb4421',
  'data_batch_4.bin': 'ae636b3ba5c66a11e91e8cb52e771fcb',
  'data_batch_5.bin': '53f37980c15c3d472c316c40844f3f0d',
  'test_batch.bin': '803d5f7f4d78ea53de84dbe85f74fb6d',
};

/** md5 of the official CIFAR-100 binary files (uncompressed). */
export const CIFAR100_MD5: Readonly<Record<string, string>> = {
  'train.bin': '6172c7755cfe09b2fe270c85cebc1b15',
  'test.bin': '4499cfba6c016c1be1438163640a0898',
};

const PIXELS = 32 * 32;
const IMAGE_BYTES = 3 * PIXELS;

/** A loaded split: images as uint8 NHWC (`count x 32 x 32 x 3`) and int32 labels. */
export interface CifarSplit {
  /** `count * 32 * 32 * 3` bytes, image-major NHWC, RGB, pixel values 0-255 (divide by 255 for [0, 1]). */
  images: Uint8Array;
  /** One class index per image: 0-9 for CIFAR-10 (see {@link CIFAR10_CLASSES}), the 100 fine labels 0-99 for CIFAR-100. */
  labels: Int32Array;
  /** CIFAR-100 only: the 20 coarse labels. */
  coarseLabels?: Int32Array;
  /** Number of images (50000 in a full train split, 10000 in a test split). */
  count: number;
}

/** md5 (hex) of a buffer (RFC 1321, in JS: the same in Node and in browsers). */
export async function md5(data: Uint8Array): Promise<string> {
  return md5Hex(data);
}

/**
 * Parses records of `labelBytes` label bytes and 3072 pixel bytes (R, G, B planes of 32x32) into
 * NHWC uint8 images. Throws when the length is not a whole number of records.
 */
export function parseCifarRecords(data: Uint8Array, labelBytes: 1 | 2, source = 'data'): CifarSplit {
  const recordBytes = labelBytes + IMAGE_BYTES;
  if (data.length === 0 || data.length % recordBytes !== 0) {
    throw new RangeError(`${source}: ${data.length} bytes is not a whole number of ${recordBytes}-byte CIFAR records (truncated or not a CIFAR binary file)`);
  }
  const count = data.length / recordBytes;
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Int32Array(count);
  const coarse = labelBytes === 2 ? new Int32Array(count) : undefined;
  for (let i = 0; i < count; i++) {
    const r = i * recordBytes;
    if (coarse) {
      coarse[i] = data[r]!;
      labels[i] = data[r + 1]!;
    } else {
      labels[i] = data[r]!;
    }
    const src = r + labelBytes;
    const dst = i * IMAGE_BYTES;
    for (let p = 0; p < PIXELS; p++) {
      images[dst + 3 * p] = data[src + p]!;
      images[dst + 3 * p + 1] = data[src + PIXELS + p]!;
      images[dst + 3 * p + 2] = data[src + 2 * PIXELS + p]!;
    }
  }
  const maxLabel = labelBytes === 2 ? 99 : 9;
  const bad = labels.findIndex((l) => l > maxLabel);
  if (bad >= 0) throw new RangeError(`${source}: record ${bad} has label ${labels[bad]} > ${maxLabel} (corrupt file)`);
  return coarse ? { images, labels, coarseLabels: coarse, count } : { images, labels, count };
}

/**
 * Where a data set's files are: a directory (Node), or a base URL (`https://...`, a `URL`, or a path
 * relative to the page in a browser) under which the files are fetched.
 */
export type DataSource = string | URL;

/** Whether `source` names a URL to fetch rather than a directory. */
function isUrl(source: DataSource): boolean {
  if (source instanceof URL) return true;
  if (/^(https?|blob|data):/i.test(source)) return true;
  // In a browser every location is a URL (relative to the page).
  return typeof process === 'undefined' || process.versions?.node == null;
}

/** The location of `file` under `source`. */
function locate(source: DataSource, file: string): string {
  if (isUrl(source)) {
    const base = source instanceof URL ? source.href : source;
    return `${base.replace(/\/+$/, '')}/${file}`;
  }
  return nodePlatform('reading CIFAR files from a directory', 'In a browser pass a URL to fetch them from').join(source as string, file);
}

/** Whether `file` exists under `source` (URLs: assumed, the fetch tells). */
function present(source: DataSource, file: string): boolean {
  return isUrl(source) ? true : nodePlatform('reading CIFAR files').exists(locate(source, file));
}

/** The bytes at `location`: fetched (with the default idle timeout) when it is a URL, read from disk otherwise. @internal */
export async function readBytes(location: string, url: boolean): Promise<Uint8Array> {
  if (!url) return nodePlatform('reading files').readFile(location);
  return download(location);
}

/** Reads (or fetches) a file, gunzipping `.gz`, and checks its md5 when `expected` is given. */
async function readChecked(source: DataSource, file: string, expected: string | undefined): Promise<{ data: Uint8Array; location: string }> {
  const url = isUrl(source);
  const location = locate(source, file);
  let data: Uint8Array;
  try {
    data = await readBytes(location, url);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(url ? (e as Error).message : `${location}: cannot read (${code ?? (e as Error).message}); run \`rmc-robust prepare\` or prepareCifar10(dir) first`);
  }
  data = await gunzipIfNamed(location, data);
  if (expected) {
    const actual = await md5(data);
    if (actual !== expected) throw new Error(`${location}: md5 ${actual} differs from the official ${expected} (corrupt or truncated file)`);
  }
  return { data, location };
}

function concat(parts: CifarSplit[]): CifarSplit {
  if (parts.length === 1) return parts[0]!;
  const count = parts.reduce((s, p) => s + p.count, 0);
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Int32Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * IMAGE_BYTES);
    labels.set(p.labels, at);
    at += p.count;
  }
  return { images, labels, count };
}

/** Options of the loaders. */
export interface LoadOptions {
  /** `'train'` (default) or `'test'`. */
  split?: 'train' | 'test';
  /** Check the official md5s (default true; the embedded sample has its own). */
  verify?: boolean;
}

/**
 * Loads CIFAR-10 from the official binary files (`data_batch_1.bin` ... `data_batch_5.bin`,
 * `test_batch.bin`), checking sizes and md5s.
 *
 * @param source In Node, a directory holding the files (or the `cifar-10-batches-bin/` folder of the
 *   official tarball); anywhere, a base URL they are fetched from (`https://host/cifar10`, a `URL`, or
 *   in a browser a path relative to the page).
 */
export async function loadCifar10(source: DataSource, options: LoadOptions = {}): Promise<CifarSplit> {
  const base = !isUrl(source) && present(source, 'cifar-10-batches-bin') ? locate(source, 'cifar-10-batches-bin') : source;
  const files = (options.split ?? 'train') === 'train' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ['test_batch.bin'];
  const parts: CifarSplit[] = [];
  for (const file of files) {
    const { data, location } = await readChecked(base, file, options.verify === false ? undefined : CIFAR10_MD5[file]);
    if (data.length !== 10000 * 3073) throw new RangeError(`${location}: ${data.length} bytes, expected 30,730,000 (10000 records of 3073)`);
    parts.push(parseCifarRecords(data, 1, location));
  }
  return concat(parts);
}

/**
 * Loads CIFAR-100 (`train.bin`/`test.bin`, or their `.gz` in a directory) with fine labels in `labels`
 * and coarse labels in `coarseLabels`, checking sizes and md5s.
 *
 * @param source In Node, a directory holding the files; anywhere, a base URL they are fetched from
 *   (`train.bin` / `test.bin` under it).
 */
export async function loadCifar100(source: DataSource, options: LoadOptions = {}): Promise<CifarSplit> {
  const name = `${options.split ?? 'train'}.bin`;
  const file = isUrl(source) || present(source, name) ? name : `${name}.gz`;
  const { data, location } = await readChecked(source, file, options.verify === false ? undefined : CIFAR100_MD5[name]);
  const expected = (options.split === 'test' ? 10000 : 50000) * 3074;
  if (data.length !== expected) throw new RangeError(`${location}: ${data.length} bytes, expected ${expected}`);
  return parseCifarRecords(data, 2, location);
}

/** Images `[start, start + count)` of a split as a float32 NHWC tensor in [0, 1]. */
export function imagesToTensor(split: Pick<CifarSplit, 'images' | 'count'>, start = 0, count = split.count - start): tf.Tensor4D {
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 1 || start + count > split.count) {
    throw new RangeError(`start = ${start}, count = ${count}: must select images within [0, ${split.count})`);
  }
  const bytes = split.images.subarray(start * IMAGE_BYTES, (start + count) * IMAGE_BYTES);
  const floats = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) floats[i] = bytes[i]! / 255;
  return tf.tensor4d(floats, [count, 32, 32, 3]);
}

/**
 * `data` gunzipped when `path` ends in `.gz` (a clear error if it is not gzip), else `data` itself.
 * Uses the web-standard `DecompressionStream` (browsers, Node >= 18). @internal
 */
export async function gunzipIfNamed(path: string, data: Uint8Array): Promise<Uint8Array> {
  if (!path.endsWith('.gz')) return data;
  try {
    const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new Error(`${path}: not a valid gzip file (${(e as Error).message})`);
  }
}
