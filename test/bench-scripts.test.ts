// The bench's PyTorch side imports the dev scripts' PyTorch ports (scripts/torch_*.py). No test runs it
// (that needs torch), so a renamed function in a port broke `npm run bench` unseen once: here every
// name it takes from a port must be one the port defines.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const scripts = join(root, 'scripts');
const ports = new Set(readdirSync(scripts).filter((f) => f.endsWith('.py')).map((f) => f.slice(0, -3)));

/** Top-level functions, classes and assignments of a Python module. */
function definedNames(module: string): Set<string> {
  const source = readFileSync(join(scripts, `${module}.py`), 'utf8');
  return new Set([...source.matchAll(/^(?:def|class) (\w+)|^(\w+)\s*=/gm)].map((m) => (m[1] ?? m[2])!));
}

/** The names a bench script takes from the ports: `from port import a, b` and `port.name` after `import port`. */
function usedNames(source: string): Array<[string, string]> {
  const used: Array<[string, string]> = [];
  for (const [, module, names] of source.matchAll(/^from (\w+) import ([\w, ]+)/gm)) {
    if (ports.has(module!)) for (const name of names!.split(',')) used.push([module!, name.trim()]);
  }
  for (const [, module] of source.matchAll(/^import (\w+)/gm)) {
    if (!ports.has(module!)) continue;
    // `port.name` in code (not `scripts/port.py` in a docstring).
    for (const [, name] of source.matchAll(new RegExp(`(?<![/\\w])${module}\\.(\\w+)`, 'g'))) if (name !== 'py') used.push([module!, name!]);
  }
  return used;
}

describe("the bench's PyTorch scripts and the ports they import", () => {
  const benchScripts = readdirSync(join(root, 'bench')).filter((f) => f.endsWith('.py'));

  it.each(benchScripts)('bench/%s takes only names the ports define', (file) => {
    const used = usedNames(readFileSync(join(root, 'bench', file), 'utf8'));
    const missing = used.filter(([module, name]) => !definedNames(module).has(name)).map(([module, name]) => `${module}.${name}`);
    expect(missing).toEqual([]);
  });

  it('sees the imports of the AutoAttack table (else the check above would pass on nothing)', () => {
    const used = usedNames(readFileSync(join(root, 'bench', 'torch_autoattack.py'), 'utf8')).map(([m, n]) => `${m}.${n}`);
    expect(used).toEqual(expect.arrayContaining(['torch_apgd.apgd', 'torch_apgd.dlr', 'torch_fab.fab_single_run', 'torch_square.SquareL2']));
  });
});
