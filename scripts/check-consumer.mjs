#!/usr/bin/env node
// Does the packed package work for a user? Packs this repo (building dist/ first if it is missing),
// installs the tarball alone into a fresh consumer project, checks that npm brought the tfjs peers,
// then runs: an ESM and a CJS script (ResNet18 + PGD + TRADES), the CLI through npx, the embedded
// CIFAR-10 sample, `tsc --noEmit` (strict, no skipLibCheck) on a typed consumer file under each usual
// module setting, and arethetypeswrong on the tarball.
//
//   node scripts/check-consumer.mjs [--repo DIR] [--keep]
//
// One line per check, then `N passed, N failed`; exits 1 on any failure. --keep leaves the temp
// directory (printed) for a look. Needs the npm registry (the consumer installs from it).
//
// The consumer is one install with two package scopes: its root has no "type" field (CommonJS) and
// its esm/ folder has a package.json with "type": "module"; Node and TypeScript take the module
// format of a file from the nearest package.json and find packages in the parent node_modules, so
// this is what two separate projects would see, for one install (the package's install script
// compiles the optional native addon, ~25 s).
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Checks, PEERS, checkSample, checkSmoke, checkSweep, entryFiles, installConsumer, installedVersion, mustRun, packRepo,
  parseArgs, peerDeclaration, run, gist, sampleScript, smokeScript, sweepScript,
} from './lib/consumer.mjs';

const opts = parseArgs(process.argv.slice(2), 'node scripts/check-consumer.mjs [--repo DIR] [--keep]');
const t0 = performance.now();
const tmp = mkdtempSync(join(tmpdir(), 'rmc-consumer-'));
const cjs = join(tmp, 'app'); // no type field: CommonJS; node_modules here
const esm = join(cjs, 'esm'); // "type": "module"
const checks = new Checks();

// arethetypeswrong's default profile ("strict") checks node10, node16 (from CJS and from ESM) and
// bundler resolution: right for an ESM-first dual package that also keeps top-level main/types.
// (`--profile node16` would drop node10; `esm-only` would drop the CJS side.)
const ATTW_PROFILE = 'strict';

/**
 * The TypeScript consumer. `import` style: ES imports (compiled to require() in a CJS file under
 * nodenext/commonjs). `require` style: `import x = require()`. The @ts-expect-error lines fail the
 * compile if the package's types resolve to `any`. `baseline: true` gives the same imports of the
 * tfjs peers without rmc-robust (see {@link tsc}).
 */
function consumerTs(style, baseline = false, node = true) {
  const tfjs =
    style === 'import'
      ? `import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';`
      : `import tf = require('@tensorflow/tfjs-core');
import tfl = require('@tensorflow/tfjs-layers');
import '@tensorflow/tfjs-backend-cpu';`;
  if (baseline) return `${tfjs}\n\nexport const model: tfl.Sequential = tfl.sequential();\nexport const x: tf.Tensor = tf.zeros([1]);\n`;
  const rmc =
    style === 'import'
      ? `import { resnet18, pgd, tradesLoss, Normalize, loadCifar10Sample } from 'rmc-robust';`
      : `import rmc = require('rmc-robust');
const { resnet18, pgd, tradesLoss, loadCifar10Sample } = rmc;
const Normalize = rmc.Normalize;
type Normalize = rmc.Normalize;`;
  // Node projects also type-check the Node-only subpath rmc-robust/sweep.
  const sweep = !node
    ? ''
    : style === 'import'
      ? `import { paperGrid, expandGrid, type SweepGrid } from 'rmc-robust/sweep';`
      : `import sweep = require('rmc-robust/sweep');
const { paperGrid, expandGrid } = sweep;
type SweepGrid = sweep.SweepGrid;`;
  const sweepUse = !node
    ? ''
    : `const grid: SweepGrid = paperGrid('table3', { scale: 'smoke' });
  const runs: number = expandGrid(grid).length;
  // @ts-expect-error the paper grids are table3 to table6
  paperGrid('table9');
  void runs;
  `;
  return `${tfjs}
${rmc}
${sweep}

export async function main(): Promise<string> {
  const norm: Normalize = new Normalize({ mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2], name: 'n' });
  const mean: readonly number[] = norm.mean;
  const model: tfl.LayersModel = resnet18({ width: 0.125, seed: 0 });
  const sample = await loadCifar10Sample('test');
  const count: number = sample.count;
  const labels: Int32Array = sample.labels;
  const x: tf.Tensor4D = tf.tensor4d(Float32Array.from(sample.images.subarray(0, 2 * 3072), (v) => v / 255), [2, 32, 32, 3]);
  const y: tf.Tensor1D = tf.tensor1d(Array.from(labels.subarray(0, 2)), 'int32');
  const adv: tf.Tensor4D = pgd(model, x, y, { eps: 8 / 255, steps: 2, relStepSize: 0.25, seed: 0 });
  const loss: tf.Scalar = tradesLoss(model.predict(x) as tf.Tensor2D, model.predict(adv) as tf.Tensor2D, y, { beta: 6 });
  // @ts-expect-error eps is required
  pgd(model, x, y, { steps: 2 });
  // @ts-expect-error width is a number
  resnet18({ width: '0.125' });
  // @ts-expect-error Normalize needs mean and std
  new Normalize({ name: 'n' });
  // @ts-expect-error the split is 'train' or 'test'
  void loadCifar10Sample('validation');
  ${sweepUse}return \`\${count} \${mean.length} \${loss.dataSync()[0]}\`;
}
`;
}

// A user's strict setup: default lib for the target (tfjs-core's .d.ts need DOM types) and all
// visible @types (tfjs-core's need @types/long etc.), no skipLibCheck. skipDefaultLibCheck only skips
// TypeScript's own lib.*.d.ts (about 40% of the check time); every package's .d.ts is still checked.
const strict = { strict: true, skipLibCheck: false, skipDefaultLibCheck: true, noEmit: true, target: 'es2022' };
// name, consumer directory, compiler options, consumer file style. (e): `module: commonjs` with
// `moduleResolution: bundler` is rejected by tsc (TS5095: bundler needs module es2015+ or preserve);
// `module: preserve` is the CommonJS-capable bundler setting (import x = require() resolves with the
// "require" condition). (f) commonjs + node10 is the classic pre-"exports" CommonJS setting.
const TS_SETUPS = [
  ['tsc (a) type:module + module nodenext', esm, { module: 'nodenext' }, 'import'],
  ['tsc (b) CJS (no type field) + module nodenext', cjs, { module: 'nodenext' }, 'import'],
  ['tsc (c) type:module + module node16', esm, { module: 'node16' }, 'import'],
  ['tsc (d) module esnext + moduleResolution bundler', esm, { module: 'esnext', moduleResolution: 'bundler' }, 'import'],
  ['tsc (e) module preserve (bundler) + import = require', cjs, { module: 'preserve', moduleResolution: 'bundler' }, 'require'],
  ['tsc (f) module commonjs + moduleResolution node10', cjs, { module: 'commonjs', moduleResolution: 'node10' }, 'import'],
  // A browser project: DOM lib, no @types/node (`types: []` stops the automatic @types inclusion), so
  // the package's declarations must not lean on Node's types.
  ['tsc (g) browser: bundler + lib dom, no @types/node', esm, { module: 'esnext', moduleResolution: 'bundler', lib: ['es2022', 'dom'], types: [] }, 'import'],
];

/** At most two compiles at a time (2 cores), first come first served. */
let running = 0;
const waiting = [];
async function limited(fn) {
  if (running >= 2) await new Promise((go) => waiting.push(go));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** tsc's `file(line,col): error TS...` lines (paths from node_modules/ on) for `file` under `options`. */
async function tscErrors(dir, options, file, tag) {
  const config = `tsconfig.${tag}.json`;
  writeFileSync(join(dir, config), `${JSON.stringify({ compilerOptions: options, files: [file] }, null, 2)}\n`);
  const r = await limited(() => run(process.execPath, [join(cjs, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config], { cwd: dir }));
  const errors = r.stdout.split('\n').filter((l) => /^\S.*error TS\d+/.test(l)).map((l) => l.replace(/^(\.\.\/)*node_modules\//, 'node_modules/'));
  if (r.code !== 0 && !errors.length) throw new Error(`tsc exit ${r.code}: ${gist(r.stdout + r.stderr)}`);
  return { errors, ms: r.ms };
}

/**
 * tfjs-layers 4.22's own .d.ts have errors under strict without skipLibCheck (TS2411, TS2420),
 * whoever imports it. Those are known from a baseline file that imports only the tfjs peers, and
 * are not counted against rmc-robust: one baseline (setup 0's, started first) serves all setups, and
 * a setup gets its own only if it shows other errors in @tensorflow/ files.
 */
const upstream = new Set();
let sharedBaseline;
async function baseline([, dir, options, style], tag) {
  writeFileSync(join(dir, `baseline-${style}.ts`), consumerTs(style, true));
  const { errors } = await tscErrors(dir, { ...strict, ...options }, `baseline-${style}.ts`, `${tag}.baseline`);
  for (const e of errors) upstream.add(e);
}

/** Type-checks the consumer file under one setup: throws on errors that are not upstream ones. */
async function tsc(setup, i) {
  const [, dir, options, style] = setup;
  // A browser project (no @types/node) does not import the Node-only rmc-robust/sweep: its own file.
  const node = !options.types || options.types.length > 0;
  const file = `consumer-${style}${node ? '' : '-browser'}.ts`;
  writeFileSync(join(dir, file), consumerTs(style, false, node));
  const { errors, ms } = await tscErrors(dir, { ...strict, ...options }, file, `${i}`);
  await sharedBaseline.catch(() => {});
  const unexplained = () => errors.filter((l) => !upstream.has(l));
  if (unexplained().some((l) => l.startsWith('node_modules/@tensorflow/'))) await baseline(setup, i);
  const ours = unexplained();
  if (ours.length) {
    throw Object.assign(new Error(`${ours.length} error(s): ${ours.map((l) => l.replace(/^node_modules\//, '')).join(' | ').slice(0, 500)}`), { ms });
  }
  const ignored = errors.length ? `; ${errors.length} upstream errors in tfjs .d.ts (also without rmc-robust) ignored` : '';
  return { ms, note: `consumer file with ${style === 'require' ? 'import = require()' : 'import'}${ignored}` };
}

let pack;
try {
  pack = await checks.check('pack', async () => {
    const p = await packRepo(opts.repo, join(tmp, 'pack'));
    const want = [...new Set(['package.json', ...entryFiles(opts.repo), 'data/cifar10-sample/test.bin', 'data/cifar10-sample/train.bin'])];
    const missing = want.filter((f) => !p.files.includes(f));
    if (missing.length) throw new Error(`tarball lacks ${missing.join(', ')}`);
    return { ...p, note: `${p.files.length} files, including the ${want.length} that package.json names and the sample's${p.built ? `; ${p.built}` : ''}` };
  });
  // arethetypeswrong needs only the tarball: run it alongside the installs, report it last.
  const attw = pack && run('npx', ['--no', '--', 'attw', pack.tarball, '--profile', ATTW_PROFILE, '--format', 'ascii', '--no-emoji', '--no-color'], { cwd: opts.repo });

  const installed = pack && (await checks.check('npm install <tarball> alone', async () => {
    await installConsumer(cjs, pack.tarball, undefined);
    mkdirSync(esm);
    writeFileSync(join(esm, 'package.json'), '{ "type": "module" }\n');
  }));

  if (!pack) checks.skip('npm install <tarball> alone', 'pack');
  if (installed) {
    await checks.check('peers auto-installed by npm', () => {
      const present = PEERS.filter((p) => installedVersion(cjs, p)).map((p) => `${p}@${installedVersion(cjs, p)}`);
      const missing = PEERS.filter((p) => !installedVersion(cjs, p)).map((p) => `${p} (${peerDeclaration(cjs, p)})`);
      if (missing.length) throw new Error(`missing: ${missing.join(', ')}; installed: ${present.join(', ') || 'none'}`);
      return present.join(', ');
    });
  } else checks.skip('peers auto-installed by npm', 'install');

  const tools = installed && (await checks.check('install typescript@5.9 + @types/node@20', async () => {
    const args = ['install', '--no-audit', '--no-fund', '--save-dev', 'typescript@5.9', '@types/node@20'];
    await mustRun('npm', args, { cwd: cjs });
    return `typescript@${installedVersion(cjs, 'typescript')}, @types/node@${installedVersion(cjs, '@types/node')}`;
  }));

  if (!installed) checks.skip('install typescript@5.9 + @types/node@20', pack ? 'install' : 'pack');
  if (installed) {
    writeFileSync(join(esm, 'smoke.mjs'), smokeScript('esm'));
    writeFileSync(join(cjs, 'smoke.cjs'), smokeScript('cjs'));
    writeFileSync(join(esm, 'sample.mjs'), sampleScript('esm'));
    writeFileSync(join(cjs, 'sample.cjs'), sampleScript('cjs'));
    writeFileSync(join(esm, 'sweep.mjs'), sweepScript('esm'));
    writeFileSync(join(cjs, 'sweep.cjs'), sweepScript('cjs'));
    const node = (dir, file) => mustRun(process.execPath, [file], { cwd: dir });
    const esmRun = await checks.check('ESM import: resnet18 + pgd + tradesLoss (.mjs)', async () => checkSmoke(await node(esm, 'smoke.mjs')));
    await checks.check('CJS require: resnet18 + pgd + tradesLoss (.cjs)', async () => {
      const r = checkSmoke(await node(cjs, 'smoke.cjs'));
      // Same process setup, same package: the CJS build must register the same kernels and compute the same.
      if (esmRun) {
        const diff = [];
        if (JSON.stringify(r.kernels) !== JSON.stringify(esmRun.kernels)) diff.push(`kernels: ${r.kernelSummary} (native ${r.native}) vs ESM's ${esmRun.kernelSummary} (native ${esmRun.native})`);
        if (r.params !== esmRun.params) diff.push(`params ${r.params} vs ${esmRun.params}`);
        if (!(Math.abs(r.loss - esmRun.loss) <= 1e-5 * Math.abs(esmRun.loss))) diff.push(`loss ${r.loss} vs ${esmRun.loss}`);
        if (diff.length) throw new Error(`CJS build differs from ESM: ${diff.join('; ')}`);
      }
      return `${r.note}${esmRun ? ', same as ESM' : ''}`;
    });
    await checks.check('npx rmc-robust --help', async () => {
      const out = await mustRun('npx', ['--no', '--', 'rmc-robust', '--help'], { cwd: esm });
      if (!/Usage: rmc-robust/.test(out)) throw new Error(`no usage text: ${gist(out)}`);
      const commands = ['prepare', 'train', 'eval', 'analyze', 'demo', 'info'].filter((c) => new RegExp(`^\\s+${c}\\b`, 'm').test(out));
      return `usage lists ${commands.join(', ')}`;
    });
    await checks.check('npx rmc-robust info', async () => {
      const out = await mustRun('npx', ['--no', '--', 'rmc-robust', 'info'], { cwd: esm });
      let info;
      try {
        info = JSON.parse(out);
      } catch {
        throw new Error(`not JSON: ${gist(out)}`);
      }
      if (info.backend !== 'cpu') throw new Error(`backend ${info.backend}, expected cpu`);
      // linux-x64 glibc: the install loads the prebuilt kernels shipped in the package, compiling nothing.
      if (info.native?.route !== 'prebuilt') throw new Error(`native kernels: ${JSON.stringify(info.native)}; expected the prebuilt route`);
      if (existsSync(join(cjs, 'node_modules', 'rmc-robust', 'native', 'build'))) throw new Error('the install compiled the addon although the prebuilt one loads');
      return `backend cpu, native kernels by the prebuilt route (oneDNN ${info.native.oneDNN}, ${info.native.isa}); nothing compiled at install`;
    });
    await checks.check("loadCifar10Sample('test') (ESM)", async () => checkSample(await node(esm, 'sample.mjs')));
    await checks.check("loadCifar10Sample('test') (CJS)", async () => checkSample(await node(cjs, 'sample.cjs')));
    const esmSweep = await checks.check("import 'rmc-robust/sweep': one embedded run (ESM)", async () => checkSweep(await node(esm, 'sweep.mjs')));
    await checks.check("require('rmc-robust/sweep'): one embedded run (CJS)", async () => {
      const r = checkSweep(await node(cjs, 'sweep.cjs'));
      if (esmSweep && JSON.stringify([r.id, r.metrics, r.losses]) !== JSON.stringify([esmSweep.id, esmSweep.metrics, esmSweep.losses])) {
        throw new Error(`CJS run differs from ESM: ${r.note} vs ${esmSweep.note}`);
      }
      return `${r.note}${esmSweep ? ', same as ESM' : ''}`;
    });
  } else {
    for (const name of ['ESM import', 'CJS require', 'npx rmc-robust --help', 'npx rmc-robust info', 'loadCifar10Sample (ESM)', 'loadCifar10Sample (CJS)', 'rmc-robust/sweep (ESM)', 'rmc-robust/sweep (CJS)']) checks.skip(name, 'install');
  }

  if (tools) {
    sharedBaseline = baseline(TS_SETUPS[0], 0);
    const results = TS_SETUPS.map((setup, i) => tsc(setup, i).then((note) => ({ note }), (error) => ({ error })));
    for (const [i, [name]] of TS_SETUPS.entries()) {
      const r = await results[i];
      await checks.check(name, () => {
        if (r.error) throw r.error;
        return r.note;
      });
    }
  } else for (const [name] of TS_SETUPS) checks.skip(name, 'install');

  if (attw) {
    await checks.check(`attw ${pack.tarball.split('/').pop()} --profile ${ATTW_PROFILE}`, async () => {
      const r = await attw;
      if (r.code !== 0) throw new Error(`exit ${r.code}: ${gist(r.stdout + r.stderr)}`);
      if (!/No problems found/.test(r.stdout)) throw new Error(`unexpected output: ${gist(r.stdout)}`);
      return { ms: r.ms, note: 'no problems found' };
    });
  } else checks.skip('attw', 'pack');

  // Last (it hides a package the checks above use): the CLI where tfjs-backend-cpu is missing, as with
  // a package manager that does not install peers. --help must work; a command must say what to install.
  if (installed) {
    await checks.check('CLI without @tensorflow/tfjs-backend-cpu', async () => {
      const backend = join(cjs, 'node_modules', '@tensorflow', 'tfjs-backend-cpu');
      renameSync(backend, `${backend}.hidden`);
      try {
        await mustRun('npx', ['--no', '--', 'rmc-robust', '--help'], { cwd: esm });
        const r = await run('npx', ['--no', '--', 'rmc-robust', 'info'], { cwd: esm });
        const wanted = 'npm install @tensorflow/tfjs-backend-cpu@^4.22';
        if (r.code !== 2 || !r.stderr.includes(wanted)) throw new Error(`info: exit ${r.code}, expected 2 and '${wanted}': ${gist(r.stdout + r.stderr)}`);
        if (/\n\s+at /.test(r.stderr)) throw new Error(`info printed a stack trace: ${gist(r.stderr)}`);
        return `--help works; info exits 2 with "${r.stderr.trim()}"`;
      } finally {
        renameSync(`${backend}.hidden`, backend);
      }
    });
  } else checks.skip('CLI without @tensorflow/tfjs-backend-cpu', 'install');
} finally {
  if (opts.keep) console.log(`kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}
console.log(`total ${((performance.now() - t0) / 1000).toFixed(0)}s`);
process.exit(checks.summary());
