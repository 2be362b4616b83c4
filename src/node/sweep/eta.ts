/**
 * The time left of a sweep, estimated from the runs that finished: their time per whole run, the work
 * left (waiting runs whole, running runs less the epochs they have checkpointed) and how many runs go at
 * once.
 */

/** A finished run as timed by its result: its last attempt's seconds and where that attempt started. */
export interface FinishedRunTiming {
  /** Seconds of the last (finishing) attempt: training from `startEpoch` on, then the evaluation. */
  seconds: number;
  /** The epoch the last attempt started from (0, or a checkpoint's epoch when it resumed). */
  startEpoch: number;
  /** Epochs of the run. */
  epochs: number;
}

/**
 * Estimated seconds until the remaining runs are done.
 *
 * A finished run that resumed from epoch s of E trained E - s epochs in its `seconds`, so a whole run
 * takes `seconds * E / (E - s)` (its evaluation scaled with it: an estimate on the long side); runs that
 * only evaluated after resuming at their last epoch say nothing about training time and are left out.
 * The estimate is the mean whole-run time x the work left / `slots`.
 *
 * @param finished Finished runs' timings.
 * @param remaining Each remaining run's fraction done, in [0, 1]: 0 for a waiting run, epochs
 *   checkpointed / epochs for a running one.
 * @param slots Runs going at once (at least 1): the workers' concurrency in use.
 * @returns Seconds; 0 when nothing remains; null when something remains and no finished run times it.
 */
export function estimateEtaSeconds(finished: readonly FinishedRunTiming[], remaining: readonly number[], slots: number): number | null {
  const left = remaining.reduce((sum, done) => sum + 1 - Math.min(1, Math.max(0, done)), 0);
  if (left === 0) return 0;
  const whole = finished.filter((r) => r.startEpoch < r.epochs).map((r) => (r.seconds * r.epochs) / (r.epochs - r.startEpoch));
  if (whole.length === 0) return null;
  const mean = whole.reduce((a, b) => a + b, 0) / whole.length;
  return (mean * left) / Math.max(1, slots);
}
