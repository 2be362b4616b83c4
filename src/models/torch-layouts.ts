/**
 * Key layouts of PyTorch checkpoints: how the parameter names of the PyTorch definitions people trained
 * map onto this package's layer names (which are the paper's code's own, see torch-weights.ts).
 */

/**
 * Which PyTorch definitions a checkpoint's keys follow.
 *
 * - `'reference'`: the paper's code (MTandHJ/rcm; also its WRN-34-10, TRADES' WideResNet), whose names
 *   this package uses: no renaming.
 * - `'robustbench'`: RobustBench's model zoo definitions (robustbench/model_zoo/architectures): ResNet-18
 *   (`resnet.py` `ResNet(BasicBlock)`: `shortcut.0/1` for the projection, `linear` for the classifier),
 *   PreActResNet-18 (`PreActResNet(PreActBlockV2, bn_before_fc=True)`: `linear`) and WideResNet
 *   (`wide_resnet.py`; with `sub_block1=True`, as TRADES' code, an extra stage that `forward` never
 *   uses, whose weights are skipped).
 */
export type TorchKeyLayout = 'reference' | 'robustbench';

/** The accepted layout names. */
export const TORCH_KEY_LAYOUTS: readonly TorchKeyLayout[] = Object.freeze(['reference', 'robustbench'] as const);

interface LayoutRules {
  /** Renames tried in order on a key the model does not have; the first giving a model key wins. */
  renames: ReadonlyArray<readonly [RegExp, string]>;
  /** Keys skipped on purpose, with the reason. */
  skips: ReadonlyArray<readonly [RegExp, string]>;
}

const RULES: Readonly<Record<TorchKeyLayout, LayoutRules>> = {
  reference: { renames: [], skips: [] },
  robustbench: {
    renames: [
      [/^linear\./, 'fc.'],
      [/\.shortcut\.([01])\./, '.downsample.$1.'],
    ],
    skips: [[/^sub_block1\./, "WideResNet's sub_block1 (TRADES' code), which forward() never uses"]],
  },
};

/** Batch norm's step counter: PyTorch-only state, no weight. */
const NUM_BATCHES_TRACKED = /(^|\.)num_batches_tracked$/;

/** What becomes of one checkpoint key under a layout. */
export type KeyFate = { kind: 'weight'; key: string } | { kind: 'skip'; reason: string } | { kind: 'unknown' };

/**
 * Maps checkpoint key `key` (after the user's rename) to a model key: the key itself when the model has
 * it, else the layout's first rename that the model has; batch norm's `num_batches_tracked` and the
 * layout's unused parts are skipped with a reason; anything else is unknown to the model.
 */
export function mapTorchKey(key: string, layout: TorchKeyLayout, modelKeys: ReadonlySet<string>): KeyFate {
  if (modelKeys.has(key)) return { kind: 'weight', key };
  if (NUM_BATCHES_TRACKED.test(key)) return { kind: 'skip', reason: "batch norm's num_batches_tracked counter, PyTorch-only" };
  const rules = RULES[layout];
  for (const [pattern, reason] of rules.skips) if (pattern.test(key)) return { kind: 'skip', reason };
  for (const [pattern, replacement] of rules.renames) {
    const renamed = key.replace(pattern, replacement);
    if (renamed !== key && modelKeys.has(renamed)) return { kind: 'weight', key: renamed };
  }
  return { kind: 'unknown' };
}

/** Validates a layout name; errors name the accepted values. */
export function checkTorchKeyLayout(layout: unknown, what: string): TorchKeyLayout {
  if (!TORCH_KEY_LAYOUTS.includes(layout as TorchKeyLayout)) {
    throw new RangeError(`${what}: layout ${JSON.stringify(layout)}: accepted values are ${TORCH_KEY_LAYOUTS.map((l) => `'${l}'`).join(', ')}`);
  }
  return layout as TorchKeyLayout;
}
