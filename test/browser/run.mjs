#!/usr/bin/env node
// The browser test of issue #14: packs the repo, installs the tarball with tfjs into an empty temporary
// project, bundles test/browser/page.ts there with esbuild (browser platform, everything bundled),
// serves it on 127.0.0.1 and runs it in Debian's chromium on the cpu, wasm and webgl backends.
//
//   node test/browser/run.mjs [--repo DIR] [--build] [--external-node-builtins] [--strict-tree-shaking]
//                             [--backends cpu,wasm,webgl] [--timeout SECONDS] [--keep]
//
// --repo DIR                 the repo to pack (default: this repo); `npm run build` first if dist/ is missing
// --build                    `npm run build` in the repo first even when dist/ exists (it packs whatever dist/ holds)
// --external-node-builtins   TEMPORARY: leave Node built-ins and pngjs out of the bundle (until the
//                            package's main entry is browser-safe)
// --strict-tree-shaking      fail when a bundle importing only avgPoolingBound still holds
//                            tfjs-layers code or kernel registrations (otherwise only reported)
// --keep                     keep the temporary directory and print its path
//
// Prints one line per backend, the bundle sizes, and `N passed, N failed`; exits 1 on any failure.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const ownRoot = resolve(here, '..', '..');
const { values: opts } = parseArgs({
  options: {
    repo: { type: 'string', default: ownRoot },
    build: { type: 'boolean', default: false },
    'external-node-builtins': { type: 'boolean', default: false },
    'strict-tree-shaking': { type: 'boolean', default: false },
    backends: { type: 'string', default: 'cpu,wasm,webgl' },
    timeout: { type: 'string', default: '120' },
    keep: { type: 'boolean', default: false },
  },
});
const repo = resolve(opts.repo);
const backends = opts.backends.split(',').filter(Boolean);
const timeoutMs = Number(opts.timeout) * 1000;
const TFJS = ['core', 'layers', 'backend-cpu', 'backend-wasm', 'backend-webgl'].map((p) => `@tensorflow/tfjs-${p}@4.22.0`);
const CHROMIUM = '/usr/bin/chromium';

// esbuild and playwright-core come from this repo's own node_modules (devDependencies).
const ownRequire = createRequire(join(ownRoot, 'package.json'));
const esbuild = ownRequire('esbuild');
const { chromium } = ownRequire('playwright-core');

const t0 = performance.now();
const seconds = (since) => ((performance.now() - since) / 1000).toFixed(1);
const results = []; // { name, ok, line }
const record = (name, ok, detail) => {
  results.push({ name, ok });
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? `  ${detail}` : ''}`);
};
const npm = (args, cwd, env = {}) => {
  try {
    return execFileSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const output = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n  ');
    record(`npm ${args.join(' ')} (in ${cwd})`, false, `exit ${e.status}\n  ${output}`);
    throw Object.assign(new Error(`npm ${args[0]} failed`), { reported: true });
  }
};

const tmp = mkdtempSync(join(tmpdir(), 'rmc-browser-'));
let browser;
let server;
try {
  // (a) pack
  let t = performance.now();
  if (opts.build || !existsSync(join(repo, 'dist'))) {
    console.log(`${opts.build ? '--build' : `dist/ missing in ${repo}`}: npm run build`);
    npm(['run', 'build'], repo);
    console.log(`built in ${seconds(t)} s`);
    t = performance.now();
  }
  const packDir = join(tmp, 'pack');
  mkdirSync(packDir);
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', packDir], repo));
  const tarball = join(packDir, packed[0].filename);
  console.log(`packed ${packed[0].filename} (${packed[0].size} bytes, ${packed[0].entryCount} files) in ${seconds(t)} s`);

  // (b) an empty project with the tarball and tfjs. RMC_NATIVE=0: the package's install script skips
  // the optional native (Node-only) kernels, which a browser bundle never uses.
  t = performance.now();
  const project = join(tmp, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'rmc-browser-test', private: true, type: 'module' }, null, 2));
  npm(['install', '--no-audit', '--no-fund', '--loglevel=error', tarball, ...TFJS], project, { RMC_NATIVE: '0' });
  const installedVersion = JSON.parse(readFileSync(join(project, 'node_modules', 'rmc-robust', 'package.json'), 'utf8')).version;
  console.log(`installed rmc-robust@${installedVersion} + ${TFJS.join(' ')} in ${seconds(t)} s`);

  // (c) bundle from inside the project, so 'rmc-robust' resolves to the installed tarball.
  t = performance.now();
  const external = opts['external-node-builtins']
    ? [...builtinModules, ...builtinModules.map((m) => `node:${m}`), 'pngjs']
    : [];
  copyFileSync(join(here, 'page.ts'), join(project, 'page.ts'));
  writeFileSync(
    join(project, 'only-bound.js'),
    "import { avgPoolingBound } from 'rmc-robust';\nconsole.log(avgPoolingBound({ height: 4, width: 4, a: -1, b: 1, gamma: 0.5 }).value);\n",
  );
  const bundle = async (entry, outfile) => {
    const result = await esbuild.build({
      absWorkingDir: project,
      entryPoints: [entry],
      outfile,
      platform: 'browser',
      format: 'esm',
      bundle: true,
      minify: true,
      external,
      metafile: true,
      logLevel: 'silent',
    });
    const code = readFileSync(join(project, outfile));
    return { code, raw: code.length, gzip: gzipSync(code, { level: 9 }).length, metafile: result.metafile };
  };
  let page;
  try {
    page = await bundle('page.ts', 'out/page.js');
  } catch (e) {
    const errors = (e.errors ?? []).map((m) => `  ${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text}`);
    record('bundle page.ts', false, `esbuild failed:\n${errors.join('\n') || e.message}`);
    throw Object.assign(new Error('bundle failed'), { reported: true });
  }
  console.log(`bundle page.js: ${page.raw} bytes, ${page.gzip} gzip (${seconds(t)} s)${external.length ? '  [--external-node-builtins]' : ''}`);

  // The page type-checks against the installed package's declarations, as a browser project's code
  // would (DOM lib, no @types/node; the libraries' own .d.ts are the consumer check's business).
  t = performance.now();
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, target: 'es2022', module: 'esnext', moduleResolution: 'bundler', lib: ['es2022', 'dom'], types: [], skipLibCheck: true },
    files: ['page.ts'],
  }));
  try {
    execFileSync(process.execPath, [ownRequire.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: project, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    record('page.ts type-checks against the package', true, `${seconds(t)} s`);
  } catch (e) {
    record('page.ts type-checks against the package', false, `${e.stdout ?? ''}${e.stderr ?? e.message}`.trim());
  }

  // The tree-shaking probe: importing avgPoolingBound alone should bring neither tfjs-layers nor
  // any kernel registration. Judged from esbuild's metafile (bytes each input contributes) and from
  // strings that only the registering code holds.
  const probe = await bundle('only-bound.js', 'out/only-bound.js');
  const inputs = Object.entries(Object.values(probe.metafile.outputs)[0].inputs);
  const bytesFrom = (re) => inputs.filter(([path]) => re.test(path)).reduce((s, [, v]) => s + v.bytesInOutput, 0);
  const layersBytes = bytesFrom(/@tensorflow\/tfjs-layers\//);
  const coreBytes = bytesFrom(/@tensorflow\/tfjs-core\//);
  const text = probe.code.toString('utf8');
  const kernelMarkers = ['RmcSgdStep', 'RmcReluGrad', 'RmcBatchNormInference', 'Conv2DBackpropFilter', 'is already registered'].filter((s) => text.includes(s));
  const layersMarkers = ['LayersModel', 'loadLayersModel', 'BatchNorm2d'].filter((s) => text.includes(s));
  const shaken = layersBytes === 0 && layersMarkers.length === 0 && kernelMarkers.length === 0;
  const probeLine =
    `avgPoolingBound-only bundle: ${probe.raw} bytes, ${probe.gzip} gzip; tfjs-layers ${layersBytes} bytes, tfjs-core ${coreBytes} bytes` +
    `; layers strings [${layersMarkers.join(', ')}]; kernel-registration strings [${kernelMarkers.join(', ')}]`;
  if (opts['strict-tree-shaking']) record('tree shaking', shaken, probeLine);
  else console.log(`${shaken ? 'info' : 'info (not tree-shaken; fails with --strict-tree-shaking)'}: ${probeLine}`);

  // (d) serve the bundle, the page and the wasm binaries.
  const wasmDir = join(project, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  const wasmFiles = new Set(readdirSync(wasmDir).filter((f) => f.endsWith('.wasm')));
  const html = '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>rmc-robust browser test</title></head>' +
    '<body><script type="module" src="/page.js"></script></body></html>';
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const send = (type, body) => {
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (path === '/') return send('text/html; charset=utf-8', html);
    if (path === '/page.js') return send('text/javascript; charset=utf-8', page.code);
    const wasm = path.startsWith('/wasm/') ? path.slice('/wasm/'.length) : null;
    if (wasm && wasmFiles.has(wasm)) return send('application/wasm', readFileSync(join(wasmDir, wasm)));
    // The embedded CIFAR-10 sample, as the installed package ships it (the page fetches it by URL).
    if (path === '/data/test.bin') return send('application/octet-stream', readFileSync(join(project, 'node_modules', 'rmc-robust', 'data', 'cifar10-sample', 'test.bin')));
    // PyTorch checkpoint fixtures (not in the package): the page imports a .pt fetched from here.
    const torchFile = path.startsWith('/torch/') ? path.slice('/torch/'.length) : null;
    const torchPath = torchFile && /^[\w.-]+$/.test(torchFile) ? join(repo, 'test', 'fixtures', 'torch-checkpoints', torchFile) : null;
    if (torchPath && existsSync(torchPath)) return send(torchFile.endsWith('.json') ? 'application/json' : 'application/octet-stream', readFileSync(torchPath));
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const origin = `http://127.0.0.1:${server.address().port}`;

  // (e) Debian's chromium; launch() gives every run a fresh temporary profile (user-data-dir).
  t = performance.now();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  console.log(`chromium ${browser.version()} up in ${seconds(t)} s`);

  // (f) one fresh context (own IndexedDB) per backend.
  for (const backend of backends) {
    t = performance.now();
    const context = await browser.newContext();
    const tab = await context.newPage();
    const errors = [];
    const warnings = [];
    tab.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
      else if (m.type() === 'warning') warnings.push(m.text());
    });
    tab.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    // Chromium reports some fetches read to the end as failed (net::ERR_ABORTED after their response,
    // e.g. a no-store body read with getReader() in several chunks: microsoft/playwright#42742). Such
    // a request counts as a note, not an error: the page itself checks what it received (the sample's
    // md5, the checkpoints' logits), so a body really cut short fails its check. A request that failed
    // with no response, or with another error, is an error.
    const responded = new Set();
    const afterResponse = [];
    tab.on('response', (response) => responded.add(response.request()));
    tab.on('requestfailed', (r) => {
      const text = `request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`;
      if (responded.has(r) && r.failure()?.errorText === 'net::ERR_ABORTED') afterResponse.push(text);
      else errors.push(text);
    });
    let result;
    try {
      await tab.goto(`${origin}/?backend=${backend}`, { waitUntil: 'commit', timeout: timeoutMs });
      await tab.waitForFunction(() => window.__result !== undefined, null, { timeout: timeoutMs, polling: 100 });
      result = await tab.evaluate(() => window.__result);
    } catch (e) {
      errors.push(`harness: ${e.message.split('\n')[0]}`);
    }
    await context.close();
    const failedChecks = (result?.checks ?? []).filter((c) => !c.ok);
    const ok = result?.ok === true && errors.length === 0;
    const detail = [
      `${seconds(t)} s`,
      result ? `${result.checks.length - failedChecks.length}/${result.checks.length} checks` : 'no result',
      ...(warnings.length ? [`${warnings.length} console warning(s)`] : []),
      ...afterResponse.map((e) => `\n    note: ${e} (after its response; the page checked the body)`),
      ...failedChecks.map((c) => `\n    check failed: ${c.name}: ${c.detail}`),
      ...(result?.error ? [`\n    error: ${result.error.split('\n').slice(0, 4).join('\n      ')}`] : []),
      ...errors.map((e) => `\n    ${e}`),
    ];
    record(`browser ${backend}`, ok, detail.join('  '));
    if (process.env.RMC_BROWSER_VERBOSE) {
      for (const c of result?.checks ?? []) console.log(`    ${c.ok ? 'ok ' : 'BAD'} ${c.name}: ${c.detail}`);
      for (const w of warnings) console.log(`    console.warn: ${w}`);
    }
  }
} catch (e) {
  if (!e.reported) record('harness', false, e.stack ?? String(e));
} finally {
  await browser?.close();
  server?.close();
  if (opts.keep) console.log(`kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}

const failed = results.filter((r) => !r.ok).length;
console.log(`total ${seconds(t0)} s`);
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
