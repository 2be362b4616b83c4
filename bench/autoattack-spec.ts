/**
 * What the AutoAttack column of bench/run.ts times, written as JSON for both sides (bench/autoattack.ts
 * and bench/torch_autoattack.py), and the files they share in `dir`.
 */

/** A ResNet18 both sides attack: the library's `resnet18({ strides, width, seed })`, its weights exported once. */
export interface AaNet {
  name: string;
  strides: string;
  width: number;
  seed: number;
  /** The first `images` images of the embedded CIFAR-10 test sample. */
  images: number;
  /** The attacks' budget on this network (in `norm`). */
  eps: number;
}

/** The AutoAttack components timed (AutoAttack's settings; budgets as given). */
export type AaKind = 'apgd-ce' | 'apgd-t' | 'fab-t' | 'square';

export interface AaAttack {
  net: string;
  kind: AaKind;
  /** APGD and FAB iterations per run. */
  steps?: number;
  /** APGD-T and FAB-T target classes (ranks 2 .. targets + 1 by the clean logits). */
  targets?: number;
  /** Square's queries. */
  queries?: number;
}

export interface AaSpec {
  /** Where `<net>.safetensors` (weights, PyTorch names and layout) and `<net>-data.safetensors` (`init`: APGD's start points, NHWC; `labels`) go. */
  dir: string;
  norm: 'l2';
  /** Square's seed (both sides draw the same windows from it). */
  seed: number;
  nets: AaNet[];
  attacks: AaAttack[];
}

/** One line of either side's output for an attack. */
export interface AaResult {
  net: string;
  kind: AaKind;
  ms: number;
  /** Points still classified as their label after the attack, of all `images`. */
  robust: number;
}

/** Display name of an attack. */
export const AA_NAMES: Record<AaKind, string> = { 'apgd-ce': 'APGD-CE', 'apgd-t': 'APGD-T', 'fab-t': 'FAB-T', square: 'Square' };

/** The iterations (APGD, FAB; times the targets) or queries (Square) an attack's budget allows. */
export function aaBudget(attack: AaAttack): number {
  if (attack.kind === 'square') return attack.queries!;
  return attack.steps! * (attack.kind === 'apgd-ce' ? 1 : attack.targets!);
}

/** The smallest budget of the same attack: the untimed warm-up run both sides make first. */
export function aaWarmup(attack: AaAttack): AaAttack {
  return { ...attack, steps: 1, targets: 1, queries: 1 };
}
