/** Piecewise-constant learning-rate schedules (PyTorch's `MultiStepLR` and its generalisation). */

/** A schedule: `base` until the first milestone, then `base * factors[i]` from milestone i on. */
export interface PiecewiseSchedule {
  /** Initial learning rate (> 0). */
  base: number;
  /** Epochs (0-based, strictly increasing) at which the rate changes. */
  milestones: readonly number[];
  /** Multipliers of `base` from each milestone on (e.g. [0.1, 0.01]); or give `gamma`. */
  factors?: readonly number[];
  /** Shorthand for `factors[i] = gamma^(i + 1)` (MultiStepLR). */
  gamma?: number;
}

/**
 * Validates a schedule and returns `epoch => lr`: the rate in effect during 0-based `epoch`, as
 * PyTorch's `MultiStepLR` stepped once per epoch gives it (`milestones: [100, 105], gamma: 0.1` is the
 * paper's AT schedule: 0.1, then 0.01 from epoch 100, 0.001 from 105).
 */
export function piecewiseLr(schedule: PiecewiseSchedule): (epoch: number) => number {
  const { base, milestones } = schedule;
  if (typeof base !== 'number' || !Number.isFinite(base) || base <= 0) throw new RangeError(`lr base = ${String(base)}: must be a finite number > 0`);
  if (!Array.isArray(milestones)) throw new RangeError('milestones: expected an array of epochs');
  milestones.forEach((m, i) => {
    if (!Number.isInteger(m) || m < 1) throw new RangeError(`milestones[${i}] = ${m}: must be an integer >= 1`);
    if (i > 0 && m <= milestones[i - 1]!) throw new RangeError(`milestones must be strictly increasing, got [${milestones.join(', ')}]`);
  });
  let factors: readonly number[];
  if (schedule.factors) {
    factors = schedule.factors;
    if (schedule.gamma !== undefined) throw new RangeError('give either factors or gamma, not both');
  } else {
    const gamma = schedule.gamma ?? 0.1;
    if (!(gamma > 0)) throw new RangeError(`gamma = ${gamma}: must be > 0`);
    factors = milestones.map((_, i) => gamma ** (i + 1));
  }
  if (factors.length !== milestones.length) {
    throw new RangeError(`factors: ${factors.length} factors for ${milestones.length} milestones`);
  }
  factors.forEach((f, i) => {
    if (!(typeof f === 'number' && Number.isFinite(f) && f > 0)) throw new RangeError(`factors[${i}] = ${f}: must be a finite number > 0`);
  });
  return (epoch: number) => {
    let lr = base;
    milestones.forEach((m, i) => {
      if (epoch >= m) lr = base * factors[i]!;
    });
    return lr;
  };
}
