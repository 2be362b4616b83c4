import { nodePlatformOrNull } from '../io/platform.js';
import { md5, parseCifarRecords, readBytes, type CifarSplit } from './cifar.js';

/** md5 of the embedded sample files (scripts/make-cifar10-sample.ts). */
export const CIFAR10_SAMPLE_MD5: Readonly<Record<'train' | 'test', string>> = {
  train: '156a5ebb8444e7b4924a92d6456cc63f',
  test: '86e952e70fdd52c86866d92514f30b33',
};

/** Where {@link loadCifar10Sample} gets the sample file in a browser. */
export interface SampleOptions {
  /**
   * The URL of the split's file (`train.bin` or `test.bin` from the package's `data/cifar10-sample/`,
   * exported as `rmc-robust/data/cifar10-sample/<split>.bin` for bundlers' asset imports). Needed in a
   * browser; in Node the file is read from the installed package.
   */
  url?: string | URL;
  /** The file's bytes, already in hand (takes precedence over `url`). */
  bytes?: Uint8Array | ArrayBuffer;
}

/**
 * The real CIFAR-10 images shipped with the package: 2,000 training images (200 per class) and 1,000
 * test images (100 per class), drawn reproducibly from the official data (seeded permutations, see
 * data/cifar10-sample/manifest.json), for demos and tests that need no download. md5-checked on load.
 *
 * @example const test = await loadCifar10Sample('test');                                  // Node
 * @example const test = await loadCifar10Sample('test', { url: '/assets/test.bin' });     // browser
 */
export async function loadCifar10Sample(split: 'train' | 'test' = 'train', options: SampleOptions = {}): Promise<CifarSplit> {
  if (split !== 'train' && split !== 'test') throw new RangeError(`split '${String(split)}': accepted values are 'train', 'test'`);
  const file = `data/cifar10-sample/${split}.bin`;
  let data: Uint8Array;
  let source: string;
  if (options.bytes !== undefined) {
    data = options.bytes instanceof Uint8Array ? options.bytes : new Uint8Array(options.bytes);
    source = `the bytes given for ${file}`;
  } else if (options.url !== undefined) {
    source = options.url instanceof URL ? options.url.href : options.url;
    data = await readBytes(source, true);
  } else {
    const node = nodePlatformOrNull();
    if (!node) {
      throw new Error(`loadCifar10Sample: outside Node pass { url } (or { bytes }) of ${file}, served from the package (import it as an asset: 'rmc-robust/${file}')`);
    }
    const path = node.packageFile(file);
    if (!path) throw new Error(`the embedded CIFAR-10 sample (${file}) is missing from the package`);
    source = path;
    data = await node.readFile(path);
  }
  const sum = await md5(data);
  if (sum !== CIFAR10_SAMPLE_MD5[split]) throw new Error(`${source}: md5 ${sum} differs from ${CIFAR10_SAMPLE_MD5[split]} (corrupt sample)`);
  return parseCifarRecords(data, 1, source);
}
