/**
 * Deterministic seeds for weight initialisers.
 *
 * tfjs initialisers take an integer seed each. A model built with `seed: s` draws the seeds of its
 * layers, in construction order, from a {@link SeedStream} started at `s`, so the same options and seed
 * always give the same weights; without a seed every initialiser is random.
 */
export class SeedStream {
  private counter = 0;

  /**
   * A stream of initialiser seeds starting at `seed`.
   *
   * @param seed The start of the stream, a non-negative integer; `undefined` makes every {@link next}
   *   return `undefined` (random weights).
   * @throws RangeError when `seed` is not a non-negative integer.
   */
  constructor(readonly seed?: number) {
    if (seed !== undefined && (!Number.isInteger(seed) || seed < 0)) {
      throw new RangeError(`seed: expected a non-negative integer, got ${String(seed)}`);
    }
  }

  /** The next seed of the stream, or `undefined` when the stream is unseeded. */
  next(): number | undefined {
    if (this.seed === undefined) return undefined;
    this.counter += 1;
    // A large odd multiplier spreads consecutive layer seeds apart; keep within 2^31 for seedrandom.
    return (this.seed * 1_000_003 + this.counter * 7919) % 2_147_483_647;
  }
}

/** A seed option as blocks accept it: a number starts a fresh stream, a stream is continued. */
export type SeedLike = number | SeedStream | undefined;

/** Turns a {@link SeedLike} into a stream. */
export function toSeedStream(seed: SeedLike): SeedStream {
  return seed instanceof SeedStream ? seed : new SeedStream(seed);
}
