import type { Attack } from './attack.js';
import { deepfoolAttack } from './deepfool.js';
import { fgsmAttack } from './fgsm.js';
import { pgdAttack } from './pgd.js';
import { checkOptionKeys, optionKeys } from './validate.js';

/** Options of {@link paperAttacks}. */
export interface PaperAttacksOptions {
  /** Seed of the PGD random starts (PGD-10 uses seed, PGD-20 seed + 1000, PGD-50 seed + 2000). */
  seed?: number;
}

/**
 * The paper's white-box suite (Table I, foolbox 3.3.1 settings, Linf): FGSM; PGD-10 and PGD-20 with
 * relative step 0.25; PGD-50 with relative step 0.033333 (all with a uniform random start); DeepFool
 * with 50 steps, overshoot 0.02 and 10 candidate classes. Use with {@link robustAccuracy} at
 * `eps = 8 / 255`.
 */
export function paperAttacks(options: PaperAttacksOptions = {}): Attack[] {
  checkOptionKeys(options ?? {}, optionKeys<PaperAttacksOptions>({ seed: true }), 'paperAttacks');
  const seed = (offset: number) => (options.seed === undefined ? undefined : options.seed + offset);
  return [
    fgsmAttack(),
    pgdAttack({ name: 'PGD-10', steps: 10, relStepSize: 0.25, seed: seed(0) }),
    pgdAttack({ name: 'PGD-20', steps: 20, relStepSize: 0.25, seed: seed(1000) }),
    pgdAttack({ name: 'PGD-50', steps: 50, relStepSize: 0.033333, seed: seed(2000) }),
    deepfoolAttack({ name: 'DeepFool', steps: 50, overshoot: 0.02, candidates: 10 }),
  ];
}
