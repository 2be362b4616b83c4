/** The options of `npm run bench` (bench/run.ts); see the usage there. */

export interface BenchOptions {
  repeats: number;
  warmup: number;
  batch: number;
  /** Table 1 (and the setups table): forward and PGD of 1-2-2-2 only. */
  quick: boolean;
  /** Table 1: each cell again in a fresh process per side (peak RSS per cell). */
  fresh: boolean;
  /** PyTorch's processes with glibc's and libgomp's defaults instead of the heap reuse and short spin our addon has. */
  torchDefaults: boolean;
  tables: { throughput: boolean; setups: boolean; autoattack: boolean; routes: boolean };
  aa: { steps: number; targets: number; queries: number; images: number; fullImages: number; eps: number; fullEps: number; standard: boolean };
}

const VALUES = ['--repeats', '--warmup', '--batch', '--aa-steps', '--aa-targets', '--aa-queries', '--aa-images', '--aa-full-images', '--aa-eps', '--aa-full-eps'];
const TABLES = ['throughput', 'setups', 'autoattack', 'routes'] as const;
const FLAGS = ['--quick', '--no-fresh', '--torch-defaults', '--aa-standard', '--setups', ...TABLES.flatMap((t) => [`--no-${t}`, `--only-${t}`])];

/** Parses bench/run.ts's arguments; throws naming the option on an unknown one or a bad value. */
export function parseBenchOptions(args: string[]): BenchOptions {
  for (let i = 0; i < args.length; i++) {
    if (VALUES.includes(args[i]!)) i++;
    else if (!FLAGS.includes(args[i]!)) throw new Error(`unknown option ${args[i]}; options: ${[...VALUES.map((k) => `${k} N`), ...FLAGS].join(', ')}`);
  }
  const value = (name: string, fallback: number, integer = true, zero = false, max = Infinity) => {
    const i = args.indexOf(name);
    if (i < 0) return fallback;
    const v = Number(args[i + 1]);
    if (!Number.isFinite(v) || v < 0 || (v === 0 && !zero) || (integer && !Number.isInteger(v)) || v > max) {
      const range = `a ${zero ? 'non-negative' : 'positive'} ${integer ? 'integer' : 'number'}${max < Infinity ? ` up to ${max}` : ''}`;
      throw new Error(`${name} ${args[i + 1] ?? ''}: expected ${range}`);
    }
    return v;
  };
  const only = TABLES.filter((t) => args.includes(`--only-${t}`));
  // The setups table (PyTorch's candidate setups side by side) runs only when asked for.
  const on = (t: (typeof TABLES)[number]) => (only.length ? only.includes(t) : t === 'setups' ? args.includes('--setups') : !args.includes(`--no-${t}`));
  const standard = args.includes('--aa-standard');
  return {
    repeats: value('--repeats', 5),
    warmup: value('--warmup', 3, true, true),
    batch: value('--batch', 32),
    quick: args.includes('--quick'),
    fresh: !args.includes('--no-fresh'),
    torchDefaults: args.includes('--torch-defaults'),
    tables: { throughput: on('throughput'), setups: on('setups'), autoattack: on('autoattack'), routes: on('routes') },
    aa: {
      steps: value('--aa-steps', standard ? 100 : 20),
      targets: value('--aa-targets', standard ? 9 : 3),
      queries: value('--aa-queries', standard ? 5000 : 200),
      // The embedded sample's test split has 1,000 images.
      images: value('--aa-images', 200, true, false, 1000),
      fullImages: value('--aa-full-images', 32, true, false, 1000),
      eps: value('--aa-eps', 1, false),
      fullEps: value('--aa-full-eps', 0.03, false),
      standard,
    },
  };
}
