// Every ```ts block of README.md runs as written: each is saved as an .mts file inside the repository
// (so `import ... from 'rmc-robust'` resolves to the built package through its own exports map; dist/
// comes from `npm test`'s pretest build) and run by Node with tsx in a child process, which must exit
// with 0 and print no error. The blocks are also type-checked as a user's strict TypeScript would, and
// the README's relative links (docs/*.md, the generated API reference docs/api/README.md) must resolve.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

interface Block {
  /** 1-based line of the opening fence in README.md. */
  line: number;
  code: string;
}

/** The fenced blocks whose info string says TypeScript (```ts, ```typescript, ```mts). */
function typeScriptBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  let open: { fence: string; lang: string; line: number; lines: string[] } | undefined;
  markdown.split('\n').forEach((text, i) => {
    const fence = /^(`{3,}|~{3,})\s*([^\s`]*)/.exec(text);
    if (!open) {
      if (fence) open = { fence: fence[1]!, lang: fence[2]!.toLowerCase(), line: i + 1, lines: [] };
    } else if (fence && text.trim() === fence[1] && fence[1]!.startsWith(open.fence)) {
      if (['ts', 'typescript', 'mts'].includes(open.lang)) blocks.push({ line: open.line, code: open.lines.join('\n') + '\n' });
      open = undefined;
    } else {
      open.lines.push(text);
    }
  });
  if (open) throw new Error(`README.md: the code block opened on line ${open.line} is never closed`);
  return blocks;
}

/** tfjs-core's advice to install tfjs-node, printed with console.warn on every Node start: not an error. */
const TFJS_NODE_BANNER = /=+\s*Hi, looks like you are running TensorFlow\.js in Node\.js\.[^\n]*\s*=+/g;

function run(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, env: process.env, timeout: 100_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

const blocks = typeScriptBlocks(readFileSync(join(root, 'README.md'), 'utf8'));
let dir = '';
let typeCheck: ReturnType<typeof run> | undefined;
const fileOf = (i: number) => join(dir, `block-${i + 1}.mts`);

describe('README.md code blocks', () => {
  beforeAll(() => {
    if (!existsSync(join(root, 'dist/esm/index.node.js'))) throw new Error('dist/esm/index.node.js is missing: run npm run build (npm test does)');
    // Inside the repository, so 'rmc-robust' is the package itself (self-reference); the blocks' files
    // (model.save('file://./...')) land in this directory too, which is removed afterwards.
    dir = mkdtempSync(join(root, '.readme-test-'));
    blocks.forEach((block, i) => writeFileSync(fileOf(i), block.code));
    // The type check runs alongside the blocks; its test below awaits it.
    const tsc = require.resolve('typescript/bin/tsc');
    const flags = ['--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node'];
    typeCheck = run([tsc, ...flags, ...blocks.map((_, i) => fileOf(i))], dir);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has TypeScript blocks to check', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  blocks.forEach((block, i) => {
    it(`block ${i + 1} (README.md line ${block.line}) runs without error`, async () => {
      const { code, stdout, stderr } = await run(['--import', 'tsx', fileOf(i)], dir);
      const errors = stderr.replace(TFJS_NODE_BANNER, '').trim();
      expect(code, `exit code of README.md block at line ${block.line}\n--- stderr:\n${stderr}\n--- stdout:\n${stdout}`).toBe(0);
      expect(errors, `stderr of README.md block at line ${block.line}`).not.toMatch(/error|uncaught|unhandled/i);
    });
  });

  it('links to files of the repository that exist, the API reference among them', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const targets = [...readme.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
    expect(targets).toContain('docs/api/README.md');
    for (const target of targets) expect(existsSync(join(root, target)), `README.md links to ${target}`).toBe(true);
  });

  it('blocks type-check (strict, Node ESM)', async () => {
    const { code, stdout, stderr } = await typeCheck!;
    expect(code, `tsc on the README blocks:\n${stdout}${stderr}`).toBe(0);
  });
});
