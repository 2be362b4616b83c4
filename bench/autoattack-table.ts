/**
 * Table 2 of `npm run bench`: AutoAttack's components against the PyTorch ports of the same attacks in
 * scripts/, on the same weights, images, labels and APGD start points (bench/autoattack.ts,
 * bench/torch_autoattack.py). One warm process per side and network; the attacks alternate between the two
 * sides' processes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AA_NAMES, aaBudget, type AaAttack, type AaNet, type AaResult, type AaSpec } from './autoattack-spec.js';
import type { BenchOptions } from './options.js';
import { output, TSX, WarmProcess } from './processes.js';

export async function autoAttackTable(opts: BenchOptions, python: string | null, torch: { env: NodeJS.ProcessEnv; note: string }): Promise<void> {
  const { aa } = opts;
  const dir = mkdtempSync(join(tmpdir(), 'rmc-bench-aa-'));
  try {
    const nets: AaNet[] = [
      { name: 'small', strides: '1-2-2-2', width: 0.125, seed: 0, images: aa.images, eps: aa.eps },
      { name: 'full', strides: '1-2-2-2', width: 1, seed: 0, images: aa.fullImages, eps: aa.fullEps },
    ];
    const attacks: AaAttack[] = [
      { net: 'small', kind: 'apgd-ce', steps: aa.steps },
      { net: 'small', kind: 'apgd-t', steps: aa.steps, targets: aa.targets },
      { net: 'small', kind: 'fab-t', steps: aa.steps, targets: aa.targets },
      { net: 'small', kind: 'square', queries: aa.queries },
      { net: 'full', kind: 'apgd-ce', steps: aa.steps },
    ];
    const spec: AaSpec = { dir, norm: 'l2', seed: 0, nets, attacks };
    const specPath = join(dir, 'spec.json');
    writeFileSync(specPath, JSON.stringify(spec));
    console.log(
      `\nAutoAttack's components in L2 (the norm all the PyTorch ports have), ${aa.standard ? 'AutoAttack\'s own budgets' : 'shortened budgets, the same on both sides (--aa-standard: AutoAttack\'s)'}, ` +
        `on untrained ResNet18s 1-2-2-2 (resnet18({ width, seed: 0 })) and the first images of the embedded CIFAR-10 test sample: width 1/8, ${aa.images} images, eps ${aa.eps}; ` +
        `full width, ${aa.fullImages} images, eps ${aa.fullEps} (budgets at which part of the points fall and the rest take the whole budget, as on a robust network)`,
    );
    console.log(
      'Both sides load the weights our side exported (safetensors, PyTorch layout), the same labels (the clean predictions: every point is attacked) and the same APGD start points; ' +
        'Square draws the same windows from the same seed. One warm process per side and network, after one untimed run of each attack at the smallest budget; the attacks alternate between the sides.',
    );
    console.log(
      'PyTorch: the ports in scripts/ (torch_apgd.apgd, torch_fab.fab_single_run, torch_square.SquareL2) with AutoAttack\'s perturb around them (bench/torch_autoattack.py), ' +
        `torch.set_num_threads(os.cpu_count()), NCHW, weights frozen, ${torch.note}. Per iteration = total / (iterations x targets); Square: per query.\n`,
    );
    output(process.execPath, [...TSX, 'bench/autoattack.ts', 'prepare', specPath]);
    const serve = (net: AaNet) => ({
      mine: new WarmProcess(() => ({ command: process.execPath, argv: [...TSX, 'bench/autoattack.ts', 'serve', specPath, net.name] })),
      theirs: python ? new WarmProcess(() => ({ command: python, argv: ['bench/torch_autoattack.py', specPath, net.name] }), torch.env) : null,
    });
    const mine: AaResult[] = [];
    const theirs: Array<AaResult | undefined> = [];
    const differences: string[] = [];
    for (const net of nets) {
      const { mine: m, theirs: t } = serve(net);
      try {
        type Logits = { logits: number[] };
        const a = (await m.ask<Logits>('logits')).logits;
        if (t) {
          const b = (await t.ask<Logits>('logits')).logits;
          const largest = Math.max(...a.map(Math.abs));
          differences.push(`${net.width === 1 ? 'ResNet18' : 'width 1/8'} ${Math.max(...a.map((v, i) => Math.abs(v - b[i]!))).toExponential(1)} (logits up to ${largest.toFixed(1)})`);
        }
        await m.ask('warmup');
        await t?.ask('warmup');
        for (const [i, attack] of attacks.entries()) {
          if (attack.net !== net.name) continue;
          mine[i] = await m.ask<AaResult>(String(i));
          theirs[i] = await t?.ask<AaResult>(String(i));
        }
      } finally {
        m.close();
        t?.close();
      }
    }
    console.log('| attack | network, images | budget | rmc-robust: s | ms per iteration | PyTorch port: s | ms per iteration | **time ratio PyTorch / rmc-robust** | robust accuracy rmc-robust / PyTorch |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    attacks.forEach((a, i) => {
      const net = nets.find((n) => n.name === a.net)!;
      const budget = aaBudget(a);
      const m = mine[i]!;
      const t = theirs[i];
      const what = a.kind === 'square' ? `${a.queries} queries` : `${a.steps} iterations${a.kind === 'apgd-ce' ? '' : ` x ${a.targets} targets`}`;
      const torchCells = t ? [(t.ms / 1000).toFixed(1), (t.ms / budget).toFixed(0), `**${(t.ms / m.ms).toFixed(2)}**`] : ['-', '-', '-'];
      const cells = [AA_NAMES[a.kind], `${net.width === 1 ? 'ResNet18' : 'ResNet18 width 1/8'}, ${net.images}`, what, (m.ms / 1000).toFixed(1), (m.ms / budget).toFixed(0), ...torchCells, `${m.robust.toFixed(3)} / ${t ? t.robust.toFixed(3) : '-'}`];
      console.log(`| ${cells.join(' | ')} |`);
    });
    if (differences.length) console.log(`\nsanity: the same weights on both sides, max |logit difference| on the clean images: ${differences.join('; ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
