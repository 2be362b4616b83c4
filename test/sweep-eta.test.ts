// The sweep's ETA (src/node/sweep/eta.ts) against hand computations, and how `sweep status` writes it.
import { describe, expect, it } from 'vitest';
import { estimateEtaSeconds } from '../src/node/sweep/eta.js';
import { duration } from '../src/cli/sweep.js';

describe('estimateEtaSeconds', () => {
  it('scales a resumed run to a whole run, counts running runs by the epochs left, divides by the slots', () => {
    // Whole runs: 600 s (from epoch 0 of 10), 300 x 10 / (10 - 5) = 600 and 200 x 10 / (10 - 8) = 1000.
    const finished = [
      { seconds: 600, startEpoch: 0, epochs: 10 },
      { seconds: 300, startEpoch: 5, epochs: 10 },
      { seconds: 200, startEpoch: 8, epochs: 10 },
    ];
    // Mean 2200 / 3 s; work left: 2 waiting + (1 - 0.3) + (1 - 0.9) = 2.8 runs; 2 at once.
    expect(estimateEtaSeconds(finished, [0, 0, 0.3, 0.9], 2)).toBeCloseTo(((2200 / 3) * 2.8) / 2, 9);
  });

  it('leaves out runs that resumed at their last epoch (no training timed)', () => {
    const finished = [{ seconds: 500, startEpoch: 0, epochs: 5 }, { seconds: 20, startEpoch: 5, epochs: 5 }];
    expect(estimateEtaSeconds(finished, [0], 1)).toBe(500);
  });

  it('is 0 with nothing left, null with work left and nothing timed; fractions outside [0, 1] are clamped', () => {
    expect(estimateEtaSeconds([], [], 1)).toBe(0);
    expect(estimateEtaSeconds([{ seconds: 9, startEpoch: 0, epochs: 3 }], [1], 1)).toBe(0);
    expect(estimateEtaSeconds([], [0], 1)).toBeNull();
    expect(estimateEtaSeconds([{ seconds: 20, startEpoch: 3, epochs: 3 }], [0], 1)).toBeNull();
    expect(estimateEtaSeconds([{ seconds: 100, startEpoch: 0, epochs: 4 }], [1.5, 0], 0)).toBe(100);
    expect(estimateEtaSeconds([{ seconds: 100, startEpoch: 0, epochs: 4 }], [-0.5], 1)).toBe(100);
  });
});

describe('duration', () => {
  it('writes seconds, minutes and seconds, or hours and minutes, rounded', () => {
    const cases: Array<[number, string]> = [
      [0, '0 s'], [59.4, '59 s'], [59.6, '1 min 0 s'], [725, '12 min 5 s'], [3599, '59 min 59 s'],
      [3599.6, '1 h 0 min'], [3629, '1 h 0 min'], [3631, '1 h 1 min'], [23689, '6 h 35 min'], [90000, '25 h 0 min'],
    ];
    for (const [seconds, text] of cases) expect(duration(seconds), String(seconds)).toBe(text);
  });
});
