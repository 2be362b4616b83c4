import * as tfl from '@tensorflow/tfjs-layers';
import type { Attack } from '../attacks/attack.js';
import { apgdAttack, apgdTargetedAttack } from '../attacks/apgd.js';
import { autoAttackAttack } from '../attacks/autoattack.js';
import { deepfoolAttack } from '../attacks/deepfool.js';
import { fabTargetedAttack } from '../attacks/fab.js';
import { fgsmAttack } from '../attacks/fgsm.js';
import { NonFiniteLogitsError } from '../attacks/finite.js';
import { pgdAttack } from '../attacks/pgd.js';
import { robustAccuracy, type RobustAccuracyResult } from '../attacks/robust-accuracy.js';
import { squareAttack } from '../attacks/square.js';
import { paperAttacks } from '../attacks/suite.js';
import { fileSystem } from '../io/file-system.js';
import { loadData, parseEpsList, parseInteger, progressBar, RunDir, timestamp, UsageError } from './common.js';

/** Progress inside an attack (AutoAttack's current component), for the progress bar's note. */
type InnerProgress = (note: string) => void;

const NAMED: Record<string, (inner?: InnerProgress) => Attack> = {
  fgsm: () => fgsmAttack(),
  'pgd-10': () => pgdAttack({ name: 'PGD-10', steps: 10, relStepSize: 0.25, seed: 0 }),
  'pgd-20': () => pgdAttack({ name: 'PGD-20', steps: 20, relStepSize: 0.25, seed: 1000 }),
  'pgd-50': () => pgdAttack({ name: 'PGD-50', steps: 50, relStepSize: 0.033333, seed: 2000 }),
  deepfool: () => deepfoolAttack({ name: 'DeepFool' }),
  // AutoAttack's components with its standard settings, and the standard cascade itself.
  'apgd-ce': () => apgdAttack({ seed: 0 }),
  'apgd-dlr': () => apgdAttack({ loss: 'dlr', seed: 0 }),
  'apgd-t': () => apgdTargetedAttack({ seed: 0 }),
  'fab-t': () => fabTargetedAttack({ seed: 0 }),
  square: () => squareAttack({ seed: 0 }),
  autoattack: (inner) =>
    autoAttackAttack({ seed: 0, onProgress: (e) => inner?.(`AutoAttack: ${e.attack} (${e.attackIndex + 1}/${e.attackCount}) ${Math.round(100 * e.batchFraction)}%`) }),
};

/** `--attacks`: a comma-separated list of attack names, where `paper` stands for the paper's suite. */
export function parseAttackList(list: string, inner?: InnerProgress): Attack[] {
  const attacks = list.split(',').flatMap((name) => {
    const key = name.trim().toLowerCase();
    if (key === 'paper') return paperAttacks({ seed: 0 });
    const make = NAMED[key];
    if (!make) throw new UsageError(`--attacks '${list}': accepted values are a comma-separated list of paper, ${Object.keys(NAMED).join(', ')}`);
    return [make(inner)];
  });
  const names = attacks.map((a) => a.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new UsageError(`--attacks '${list}': ${twice} is listed twice`);
  return attacks;
}

/** Options of `rmc-robust eval`. */
export interface EvalCommandOptions {
  model: string;
  data: string;
  eps: string;
  attacks: string;
  test: string;
  batchSize: string;
  nonFinite: 'error' | 'count-as-wrong';
  out?: string;
}

export async function evalCommand(o: EvalCommandOptions): Promise<void> {
  const epsilons = parseEpsList(o.eps);
  let note: InnerProgress | undefined;
  const attacks = parseAttackList(o.attacks, (text) => note?.(text));
  const limit = parseInteger(o.test, '--test', 1);
  const batchSize = parseInteger(o.batchSize, '--batch-size', 1);
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(fileSystem(o.model));
  } catch (e) {
    throw new UsageError(`--model '${o.model}': ${(e as Error).message}`);
  }
  const out = o.out ?? `runs/${timestamp()}-eval-${model.name}`;
  const run = await RunDir.create(out, { command: 'eval', ...o, epsilons });
  // The test images stay uint8; robustAccuracy converts one batch at a time.
  const { data } = await loadData(o.data, 'test');
  const count = Math.min(limit, data.count);
  const test = { images: data.images.subarray(0, count * 32 * 32 * 3), labels: data.labels.subarray(0, count), count };
  const results: Array<{ eps: number } & RobustAccuracyResult> = [];
  for (const eps of epsilons) {
    const bar = await progressBar(`eps ${eps.toFixed(5)}`, count);
    let imagesDone = 0;
    note = (text) => bar.update(imagesDone, text);
    let r: RobustAccuracyResult;
    try {
      r = robustAccuracy(model, test, attacks, { eps, batchSize, nonFinite: o.nonFinite, onProgress: (done) => bar.update((imagesDone = done)) });
    } catch (e) {
      // A diverged model: one line naming the model, the batch and the attack (no numbers are written).
      throw e instanceof NonFiniteLogitsError ? e.restate(`--model '${o.model}'`, `${e.detail} at eps ${eps.toFixed(5)}`) : e;
    } finally {
      bar.stop();
      note = undefined;
    }
    results.push({ eps, ...r });
    const nonFinite = r.nonFinite.clean + Object.values(r.nonFinite.perAttack).reduce((a, b) => a + b, 0);
    await run.log(
      `eps ${eps}: clean ${(100 * r.clean).toFixed(2)}%, ${attacks.map((a) => `${a.name} ${(100 * r.perAttack[a.name]!).toFixed(2)}%`).join(', ')}, worst case ${(100 * r.worstCase).toFixed(2)}%` +
        (nonFinite > 0 ? `; counted as wrong for NaN/infinite logits: ${r.nonFinite.clean} clean, ${attacks.map((a) => `${a.name} ${r.nonFinite.perAttack[a.name] ?? 0}`).join(', ')}` : ''),
    );
  }
  // Laid out like the paper's Tables V and VI: one row per budget, clean then each attack.
  const names = attacks.map((a) => a.name);
  const table = [
    `| ${model.name} | eps | Natural | ${names.join(' | ')} | worst case |`,
    `|---|---|---|${names.map(() => '---').join('|')}|---|`,
    ...results.map((r) => `| | ${r.eps.toFixed(5)} | ${(100 * r.clean).toFixed(2)} | ${names.map((n) => (100 * r.perAttack[n]!).toFixed(2)).join(' | ')} | ${(100 * r.worstCase).toFixed(2)} |`),
  ].join('\n');
  await run.write('results.json', JSON.stringify(results, null, 1));
  await run.write('results.md', `${table}\n`);
  console.log(`\n${table}\n\nresults in ${out}/`);
  model.dispose();
}
