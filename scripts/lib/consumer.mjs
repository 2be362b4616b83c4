// Shared by scripts/check-consumer.mjs and scripts/check-oldest-node.mjs: command running, the
// pass/fail tally, packing the repo and installing the tarball into a fresh consumer project.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The peers a user needs at run time: npm 7+ installs non-optional peerDependencies by itself. */
export const PEERS = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-backend-cpu'];

/** `--repo DIR` (default: this checkout) and `--keep`; anything else is a usage error. */
export function parseArgs(argv, usage) {
  const opts = { repo: resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--keep') opts.keep = true;
    else if (a === '--repo' && argv[i + 1]) opts.repo = resolve(argv[++i]);
    else if (a.startsWith('--repo=')) opts.repo = resolve(a.slice(7));
    else {
      console.error(`usage: ${usage}`);
      process.exit(a === '--help' || a === '-h' ? 0 : 2);
    }
  }
  if (!existsSync(join(opts.repo, 'package.json'))) {
    console.error(`${opts.repo}: no package.json`);
    process.exit(2);
  }
  return opts;
}

/** Runs a command without a shell; resolves (never rejects) with its exit code and output. */
export function run(cmd, args, { cwd, env, timeout = 180_000 } = {}) {
  return new Promise((done) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    const finish = (code, error) => {
      clearTimeout(timer);
      done({ code, stdout, stderr: error ? `${stderr}${error.message}` : stderr, ms: performance.now() - t0 });
    };
    child.on('error', (e) => finish(127, e));
    child.on('close', (code, signal) => finish(code ?? (signal ? `killed (${signal}, ${timeout / 1000}s limit)` : 1)));
  });
}

/** The informative part of a failed command's output, on one line (at most ~400 characters). */
export function gist(text) {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const keys = lines.filter((l) => /error TS\d+|^\w*Error\b|Error:|ERR_|^npm (ERR|error)|assert|problem|❌|Resolution failed/i.test(l) && !/^at /.test(l));
  const picked = [...new Set(keys.length ? keys : lines.slice(-3))];
  const s = picked.join(' | ');
  return s.length > 400 ? `${s.slice(0, 400)}…` : s;
}

/** A command that must exit 0: returns its stdout, else throws with the gist of its output. */
export async function mustRun(cmd, args, opts) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${gist(`${r.stderr}\n${r.stdout}`) || '(no output)'}`);
  return r.stdout;
}

/**
 * Named checks, one line each as they finish (`PASS name (1.2s) - note` / `FAIL name (1.2s) - error`),
 * and `N passed, N failed` at the end.
 */
export class Checks {
  passed = 0;
  failed = 0;

  /**
   * Runs `fn`; a thrown error fails the check. Returns fn's value, or undefined on failure. A value's
   * `note` is printed, its `ms` (or a thrown error's: work done earlier, in parallel) replaces the
   * measured time.
   */
  async check(name, fn) {
    const t0 = performance.now();
    let ms;
    const secs = () => `${((ms ?? performance.now() - t0) / 1000).toFixed(1)}s`;
    try {
      const value = await fn();
      ms = value?.ms;
      const note = typeof value === 'string' ? value : value?.note;
      this.passed++;
      console.log(`PASS ${name} (${secs()})${note ? ` - ${note}` : ''}`);
      return value ?? true;
    } catch (e) {
      ms = e?.ms;
      this.failed++;
      console.log(`FAIL ${name} (${secs()}) - ${String(e?.message ?? e).replace(/\s*\n\s*/g, ' | ')}`);
      return undefined;
    }
  }

  /** A check that cannot run because `what` failed before it. */
  skip(name, what) {
    this.failed++;
    console.log(`FAIL ${name} - not run: ${what} failed`);
  }

  summary() {
    console.log(`${this.passed} passed, ${this.failed} failed`);
    return this.failed === 0 ? 0 : 1;
  }
}

/** The files package.json points at (main, module, types, bin, every exports target without a '*'). */
export function entryFiles(repo) {
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
  const found = new Set();
  const walk = (v) => {
    if (typeof v === 'string') {
      if (!v.includes('*')) found.add(v.replace(/^\.\//, ''));
    } else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk([pkg.main, pkg.module, pkg.types, pkg.typings, pkg.bin, pkg.exports]);
  return [...found];
}

/** The newest modification time (ms) of the files under `dir`, 0 if none. */
function newest(dir) {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) t = Math.max(t, statSync(join(e.parentPath ?? e.path, e.name)).mtimeMs);
  }
  return t;
}

/**
 * `npm pack`s `repo` into `dest`, after `npm run build` if a file package.json points at is missing
 * from the repo or src/ is newer than dist/. The tarball's path, its file list and why it built.
 */
export async function packRepo(repo, dest) {
  const missing = entryFiles(repo).filter((f) => !existsSync(join(repo, f)));
  const built = missing.length ? `built dist/ first (${missing[0]} was missing)` : newest(join(repo, 'src')) > newest(join(repo, 'dist')) ? 'built dist/ first (src/ was newer)' : '';
  if (built) await mustRun('npm', ['run', 'build'], { cwd: repo, timeout: 300_000 });
  mkdirSync(dest, { recursive: true });
  await mustRun('npm', ['pack', '--pack-destination', dest], { cwd: repo });
  const tgz = readdirSync(dest).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new Error(`npm pack left no .tgz in ${dest}`);
  const tarball = join(dest, tgz);
  const files = (await mustRun('tar', ['-tzf', tarball])).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
  return { tarball, files, built };
}

/** An empty project in `dir` (`type` as given, none if undefined) with the tarball installed alone. */
export async function installConsumer(dir, tarball, type) {
  mkdirSync(dir, { recursive: true });
  const pkg = { name: `consumer-${type ?? 'untyped'}`, version: '0.0.0', private: true, ...(type ? { type } : {}) };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  await mustRun('npm', ['install', '--no-audit', '--no-fund', tarball], { cwd: dir });
}

/** The version of `name` installed in `dir`'s node_modules, or null. */
export function installedVersion(dir, name) {
  const p = join(dir, 'node_modules', name, 'package.json');
  return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')).version : null;
}

/** How the installed rmc-robust declares `peer`: 'required', 'optional' or 'not declared'. */
export function peerDeclaration(dir, peer) {
  const pkg = JSON.parse(readFileSync(join(dir, 'node_modules', 'rmc-robust', 'package.json'), 'utf8'));
  if (!pkg.peerDependencies?.[peer]) return pkg.dependencies?.[peer] ? 'a dependency' : 'not declared';
  return pkg.peerDependenciesMeta?.[peer]?.optional ? 'optional peer' : 'required peer';
}

/**
 * The run-time smoke test as an ES module or a CommonJS script: a tiny ResNet18, 2-step PGD on two
 * images, the TRADES loss, and which kernels ran (backendInfo: native, fast-js or tfjs's own js);
 * prints one JSON line that {@link checkSmoke} asserts on.
 */
export function smokeScript(format) {
  const header =
    format === 'esm'
      ? `import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { resnet18, pgd, tradesLoss, countTrainableParams, backendInfo } from 'rmc-robust';`
      : `require('@tensorflow/tfjs-backend-cpu');
const tf = require('@tensorflow/tfjs-core');
const { resnet18, pgd, tradesLoss, countTrainableParams, backendInfo } = require('rmc-robust');`;
  return `${header}

const model = resnet18({ width: 0.125, seed: 0 });
const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 1);
const y = tf.tensor1d([3, 7], 'int32');
const eps = 8 / 255;
const adv = pgd(model, x, y, { eps, steps: 2, relStepSize: 0.25, seed: 0 });
const linf = tf.max(tf.abs(tf.sub(adv, x))).dataSync()[0];
const loss = tradesLoss(model.predict(x), model.predict(adv), y).dataSync()[0];
console.log(JSON.stringify({
  backend: tf.getBackend(), params: countTrainableParams(model), shape: adv.shape, eps, linf,
  min: tf.min(adv).dataSync()[0], max: tf.max(adv).dataSync()[0], loss,
  native: backendInfo().native.available, kernels: backendInfo().kernels,
}));
`;
}

/** Asserts on a smoke script's output line; returns the parsed result. */
export function checkSmoke(stdout) {
  const line = stdout.trim().split('\n').pop() ?? '';
  let r;
  try {
    r = JSON.parse(line);
  } catch {
    throw new Error(`no JSON result line in the output: ${JSON.stringify(line.slice(0, 200))}`);
  }
  const problems = [];
  if (r.backend !== 'cpu') problems.push(`backend ${r.backend}, expected cpu`);
  if (!(Number.isInteger(r.params) && r.params > 0)) problems.push(`countTrainableParams ${r.params}`);
  if (JSON.stringify(r.shape) !== '[2,32,32,3]') problems.push(`adversarial shape ${JSON.stringify(r.shape)}`);
  if (!(r.linf > 0 && r.linf <= r.eps + 1e-6)) problems.push(`Linf distance ${r.linf} not in (0, ${r.eps}]`);
  if (!(r.min >= 0 && r.max <= 1)) problems.push(`pixels outside [0, 1]: ${r.min}..${r.max}`);
  if (!(Number.isFinite(r.loss) && r.loss >= 0)) problems.push(`TRADES loss ${r.loss}`);
  if (problems.length) throw new Error(problems.join('; '));
  const sources = {};
  for (const k of Object.values(r.kernels ?? {})) sources[k] = (sources[k] ?? 0) + 1;
  const kernels = Object.entries(sources).map(([k, n]) => `${n} ${k}`).join(', ');
  return { ...r, kernelSummary: kernels, note: `${r.params} params, Linf ${r.linf.toFixed(5)}, TRADES loss ${r.loss.toFixed(4)}; kernels: ${kernels}` };
}

/** loadCifar10Sample('test') as an ES module or a CommonJS script; prints one JSON line. */
export function sampleScript(format) {
  const header =
    format === 'esm'
      ? `import { loadCifar10Sample } from 'rmc-robust';`
      : `const { loadCifar10Sample } = require('rmc-robust');`;
  return `${header}

(async () => {
  const s = await loadCifar10Sample('test');
  const perClass = new Array(10).fill(0);
  for (const l of s.labels) perClass[l]++;
  console.log(JSON.stringify({ count: s.count, bytes: s.images.length, labels: s.labels.length, perClass }));
})().catch((e) => { console.error(\`Error: \${e.message}\`); process.exit(1); });
`;
}

/**
 * `rmc-robust/sweep` as an ES module or a CommonJS script: the paper's Table III grid expands, and one
 * smoke-scale run (ResNet18 at width 1/64 on two sample images) goes through the embedded executor into
 * a directory store; prints one JSON line with the run's metrics and losses ({@link checkSweep}).
 */
export function sweepScript(format) {
  const header =
    format === 'esm'
      ? `import '@tensorflow/tfjs-backend-cpu';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paperGrid, expandGrid, embeddedExecutor, directoryStore } from 'rmc-robust/sweep';`
      : `require('@tensorflow/tfjs-backend-cpu');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { paperGrid, expandGrid, embeddedExecutor, directoryStore } = require('rmc-robust/sweep');`;
  return `${header}

(async () => {
  const table3 = expandGrid(paperGrid('table3', { scale: 'smoke', seeds: [0, 1] })).length;
  const grid = { name: 'one', scale: 'smoke', seeds: [0], models: [{ arch: 'resnet18', strides: '1-1-2-2' }], defenses: ['trades'], metrics: ['Natural', 'PGD-20'] };
  const dir = mkdtempSync(join(tmpdir(), 'rmc-sweep-'));
  try {
    const store = directoryStore(dir);
    const summary = await embeddedExecutor(store).submit(grid);
    const [run] = expandGrid(grid);
    const result = await store.readResult(run.id);
    console.log(JSON.stringify({ table3, summary, id: run.id, metrics: result && result.metrics, losses: result && result.losses }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})().catch((e) => { console.error(\`Error: \${e.message}\`); process.exit(1); });
`;
}

/** Asserts on a sweep script's output: Table III's 8 runs for 2 seeds, the one run done with its metrics. */
export function checkSweep(stdout) {
  const r = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
  if (r.table3 !== 8) throw new Error(`paperGrid('table3') with 2 seeds expanded to ${r.table3} runs, expected 8`);
  if (r.summary?.added !== 1 || r.summary.failed.length) throw new Error(`submit: ${JSON.stringify(r.summary)}`);
  if (!(Number.isFinite(r.metrics?.Natural) && Number.isFinite(r.metrics['PGD-20']) && r.losses?.length === 1)) throw new Error(`result: ${JSON.stringify(r)}`);
  return { ...r, note: `run ${r.id}: Natural ${r.metrics.Natural}%, PGD-20 ${r.metrics['PGD-20']}%, loss ${r.losses[0].toFixed(4)}` };
}

/** Asserts on a sample script's output: 1000 images of 32x32x3, 100 per class. */
export function checkSample(stdout) {
  const r = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
  if (r.count !== 1000 || r.bytes !== 1000 * 3072 || r.labels !== 1000) throw new Error(`got ${JSON.stringify(r)}, expected 1000 images`);
  if (!r.perClass.every((n) => n === 100)) throw new Error(`labels per class ${r.perClass}, expected 100 each`);
  return `${r.count} images, 100 per class, md5 ok`;
}
