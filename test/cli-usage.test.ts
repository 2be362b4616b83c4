// The command line's usage contract, in-process through runCli (src/cli/program.ts): every usage error
// exits 2 with one line on stderr naming what was wrong and pointing to the command's --help, nothing
// on stdout, no stack trace; runtime errors exit 1 with one line. A fast-check property over random bad
// arguments; test/cli.test.ts runs a few of the same through the built bin.
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../src/cli/program.js';

/** What one run printed and returned. `other`: anything written around runCli's writers (console, process streams). */
interface Run {
  code: number;
  out: string;
  err: string;
  other: string;
}

async function cli(...args: string[]): Promise<Run> {
  let out = '';
  let err = '';
  let other = '';
  const capture = (...parts: unknown[]): boolean => {
    other += parts.map(String).join(' ');
    return true;
  };
  const spies = [
    vi.spyOn(console, 'log').mockImplementation(capture),
    vi.spyOn(console, 'error').mockImplementation(capture),
    vi.spyOn(console, 'warn').mockImplementation(capture),
    vi.spyOn(process.stdout, 'write').mockImplementation(capture),
    vi.spyOn(process.stderr, 'write').mockImplementation(capture),
  ];
  try {
    const code = await runCli(['node', 'rmc-robust', ...args], { writeOut: (t) => (out += t), writeErr: (t) => (err += t) });
    return { code, out, err, other };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

/** The contract of a usage error: exit 2, one line on stderr, nothing else, no stack trace. */
function expectUsageError(r: Run, command: string): void {
  expect(r.code, r.err).toBe(2);
  expect(r.out).toBe('');
  expect(r.other).toBe('');
  expect(r.err).toMatch(/^rmc-robust: [^\n]+\n$/);
  expect(r.err).not.toMatch(/\bat .*:\d+:\d+|Error:/);
  expect(r.err.trimEnd().endsWith(`; see '${command} --help'`), r.err).toBe(true);
}

describe('usage errors: exit 2, one line naming the problem, a pointer to --help', () => {
  it.each([
    [[], 'rmc-robust: missing command: one of prepare, train, eval, import, analyze, demo, sweep, worker, info', 'rmc-robust'],
    [['trian'], "rmc-robust: unknown command 'trian' (did you mean train?)", 'rmc-robust'],
    [['mnist'], "rmc-robust: unknown command 'mnist'", 'rmc-robust'],
    [['help', 'mnist'], "rmc-robust: unknown command 'mnist' (the commands are prepare, train, eval, import, analyze, demo, sweep, worker, info)", 'rmc-robust'],
    [['--epochs', '3'], "rmc-robust: unknown option '--epochs'", 'rmc-robust'],
    [['train', '--epoch', '3'], "rmc-robust: unknown option '--epoch' (did you mean --epochs?)", 'rmc-robust train'],
    [['train', 'extra'], "rmc-robust: unexpected argument 'extra' ('train' takes options only)", 'rmc-robust train'],
    [['info', 'a', 'b'], "rmc-robust: unexpected arguments 'a', 'b' ('info' takes options only)", 'rmc-robust info'],
    [['import', 'a.pt', 'b.pt', '--arch', 'resnet18', '--out', 'm'], "rmc-robust: unexpected argument 'b.pt' ('import' takes <checkpoint> and options)", 'rmc-robust import'],
    [['eval'], "rmc-robust: required option '--model <dir>' not specified", 'rmc-robust eval'],
    [['train', '--epochs'], "rmc-robust: option '--epochs <n>' argument missing", 'rmc-robust train'],
    [['train', '--epochs', ''], "rmc-robust: --epochs '': must be an integer >= 1", 'rmc-robust train'],
    [['train', '--batch-size', ''], "rmc-robust: --batch-size '': must be an integer >= 1", 'rmc-robust train'],
    [['train', '--subset', ' '], "rmc-robust: --subset ' ': must be an integer >= 1", 'rmc-robust train'],
    [['train', '--seed', ''], "rmc-robust: --seed '': must be an integer >= 0", 'rmc-robust train'],
    [['train', '--test', '1e3'], 'rmc-robust: --test 1e3: must be an integer >= 0', 'rmc-robust train'],
    [['train', '--epochs', '0x10'], 'rmc-robust: --epochs 0x10: must be an integer >= 1', 'rmc-robust train'],
    [['train', '--epochs', '2.5'], 'rmc-robust: --epochs 2.5: must be an integer >= 1', 'rmc-robust train'],
    [['train', '--epochs', '99999999999999999999'], 'rmc-robust: --epochs 99999999999999999999: must be an integer >= 1', 'rmc-robust train'],
    [['train', '--width', 'Infinity'], 'rmc-robust: --width Infinity: must be a number > 0', 'rmc-robust train'],
    [['train', '--width', ''], "rmc-robust: --width '': must be a number > 0", 'rmc-robust train'],
    [['train', '--upsample', ''], "rmc-robust: --upsample '': must be a number > 0", 'rmc-robust train'],
    [['train', '--upsample', '2:cubic'], "rmc-robust: --upsample '2:cubic': the mode must be nearest or bilinear", 'rmc-robust train'],
    [['train', '--arch', 'lenet'], "rmc-robust: --arch 'lenet': accepted values are resnet18, preactresnet18, vgg16, alexnet, wrn", 'rmc-robust train'],
    [['train', '--pooling', ''], "rmc-robust: --pooling '': accepted values are avg, max", 'rmc-robust train'],
    [['train', '--data', 'cifar10:'], "rmc-robust: --data 'cifar10:': expected sample, cifar10:<dir> or cifar100:<dir>", 'rmc-robust train'],
    [['train', '--out', ''], "rmc-robust: --out '': expected <dir>, not an empty value", 'rmc-robust train'],
    [['train', '--out', '--resume'], "rmc-robust: --out: missing value (got the option '--resume')", 'rmc-robust train'],
    [['eval', '--model', ''], "rmc-robust: --model '': expected <dir>, not an empty value", 'rmc-robust eval'],
    [['eval', '--model', 'm', '--eps', ''], "rmc-robust: --eps '': expected numbers or fractions like 8/255, separated by commas", 'rmc-robust eval'],
    [['demo', '--test', '5000'], 'rmc-robust: --test 5000: must be an integer in [1, 1000]', 'rmc-robust demo'],
    [['analyze', '--samples', '-1'], 'rmc-robust: --samples -1: must be an integer >= 1', 'rmc-robust analyze'],
    [['prepare', '--dataset', 'mnist'], "rmc-robust: --dataset 'mnist': accepted values are cifar10, cifar100", 'rmc-robust prepare'],
    [['prepare', '--idle-timeout', '0'], 'rmc-robust: --idle-timeout 0: must be a number > 0', 'rmc-robust prepare'],
    // Control characters of a pasted value are shown escaped, never printed raw (one line, no terminal codes).
    [['train', '--arch', '\u001b[2J\nx'], "rmc-robust: --arch '\\x1b[2J x': accepted values are resnet18, preactresnet18, vgg16, alexnet, wrn", 'rmc-robust train'],
  ] as const)('%j', async (args, line, command) => {
    const r = await cli(...args);
    expectUsageError(r, command);
    expect(r.err).toBe(`${line}; see '${command} --help'\n`);
  });
});

describe('errors found while a command runs', () => {
  it('a usage error raised by the command itself also points to its --help', async () => {
    const r = await cli('train', '--resume', '--out', '/nonexistent-rmc/run', '--test', '0');
    // (tfjs may print its one-time banner about tfjs-node here, so only stderr's line is checked.)
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^rmc-robust: [^\n]+; see 'rmc-robust train --help'\n$/);
    expect(r.err).toMatch(/^rmc-robust: --resume: no checkpoint in \/nonexistent-rmc\/run\/checkpoints/);
  });

  it('a runtime failure exits 1 with one line, no pointer to --help and no stack trace', async () => {
    const r = await cli('prepare', '--dataset', 'cifar100', '--dir', '/nonexistent-rmc/c100', '--from', '/nonexistent-rmc/from');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^rmc-robust: [^\n]+\n$/);
    expect(r.err).toMatch(/cannot read train\.bin or train\.bin\.gz/);
    expect(r.err).not.toMatch(/--help|\bat .*:\d+:\d+/);
  });

  it('without tfjs-backend-cpu a command exits 2 with the install command, and no pointer to --help', async () => {
    let err = '';
    const code = await runCli(['node', 'rmc-robust', 'info'], { cpuBackendMissing: true, writeErr: (t) => (err += t) });
    expect(code).toBe(2);
    expect(err).toBe('rmc-robust: the command line runs on @tensorflow/tfjs-backend-cpu, which is not installed: npm install @tensorflow/tfjs-backend-cpu@^4.22\n');
  });

  it('keeps nothing from one call to the next (the options of an earlier call are not remembered)', async () => {
    await cli('eval', '--model', 'm', '--eps', '');
    expect((await cli('eval')).err).toMatch(/required option '--model <dir>' not specified/);
  });

  it('--help and help <command> print the help on stdout and exit 0', async () => {
    for (const args of [['--help'], ['train', '--help'], ['help', 'eval']]) {
      const r = await cli(...args);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^Usage: rmc-robust/);
      expect(r.err).toBe('');
    }
  });
});

// An independent description of the command line (not read from the program): each command's options
// that take a value, with a valid value each; its flags; the numeric options with their ranges; the
// options with fixed choices. `guard`: options every case carries unless it tests them, chosen so a
// defect the program missed makes the command fail at once (a missing directory, an unwritable output)
// instead of starting a download or a training run.
interface CommandSpec {
  values: Record<string, string>;
  flags: string[];
  numbers: Record<string, { min: number; max?: number; integer: boolean; exclusive?: boolean; range: string }>;
  choices: Record<string, string[]>;
  guard: string[];
  required?: string;
}

const missing = '/nonexistent-rmc-usage';
const SPEC: Record<string, CommandSpec> = {
  prepare: {
    values: { '--dataset': 'cifar100', '--dir': `${missing}/dir`, '--from': `${missing}/from`, '--url': 'http://127.0.0.1:1/x.tgz', '--cifar100': `${missing}/c100`, '--idle-timeout': '2' },
    flags: ['--skip-official'],
    numbers: { '--idle-timeout': { min: 0, exclusive: true, integer: false, range: '> 0' } },
    choices: { '--dataset': ['cifar10', 'cifar100'] },
    guard: ['--from', '--url', '--dir'],
  },
  train: {
    values: {
      '--arch': 'vgg16', '--strides': '1-1-2-2', '--pooling': 'max', '--upsample': '2', '--defense': 'at', '--epochs': '2', '--width': '0.5',
      '--data': `cifar10:${missing}`, '--subset': '8', '--test': '0', '--batch-size': '4', '--seed': '3', '--out': `${missing}/out`, '--checkpoint-dir': `${missing}/ckpt`,
    },
    flags: ['--resume'],
    numbers: {
      '--epochs': { min: 1, integer: true, range: '>= 1' },
      '--width': { min: 0, exclusive: true, integer: false, range: '> 0' },
      '--subset': { min: 1, integer: true, range: '>= 1' },
      '--test': { min: 0, integer: true, range: '>= 0' },
      '--batch-size': { min: 1, integer: true, range: '>= 1' },
      '--seed': { min: 0, integer: true, range: '>= 0' },
    },
    choices: { '--arch': ['resnet18', 'preactresnet18', 'vgg16', 'alexnet', 'wrn'], '--pooling': ['avg', 'max'], '--defense': ['standard', 'at', 'alp', 'trades', 'mart', 'fat', 'fat-trades', 'awp-at', 'awp-trades'] },
    guard: ['--data'],
  },
  eval: {
    values: { '--model': `${missing}/model`, '--data': 'sample', '--eps': '8/255', '--attacks': 'fgsm', '--test': '4', '--batch-size': '2', '--out': `${missing}/out` },
    flags: [],
    numbers: { '--test': { min: 1, integer: true, range: '>= 1' }, '--batch-size': { min: 1, integer: true, range: '>= 1' } },
    choices: {},
    guard: ['--model'],
    required: '--model',
  },
  analyze: {
    values: { '--out': '/dev/null/rmc', '--samples': '3' },
    flags: [],
    numbers: { '--samples': { min: 1, integer: true, range: '>= 1' } },
    choices: {},
    guard: ['--out'],
  },
  demo: {
    values: { '--epochs': '1', '--width': '0.25', '--test': '10', '--out': '/dev/null/rmc' },
    flags: [],
    numbers: {
      '--epochs': { min: 1, integer: true, range: '>= 1' },
      '--width': { min: 0, exclusive: true, integer: false, range: '> 0' },
      '--test': { min: 1, max: 1000, integer: true, range: 'in [1, 1000]' },
    },
    choices: {},
    guard: ['--out'],
  },
  info: { values: {}, flags: [], numbers: {}, choices: {}, guard: [] },
};
const COMMANDS = Object.keys(SPEC);

/** Whether `text` is a valid value of a numeric option, by plain arithmetic (only what is surely valid). */
function validNumber(text: string, n: CommandSpec['numbers'][string]): boolean {
  if (!/^\d+(\.\d+)?$/.test(text)) return false;
  const v = Number(text);
  return (!n.integer || Number.isSafeInteger(v)) && (n.exclusive ? v > n.min : v >= n.min) && (n.max === undefined || v <= n.max);
}

/** One defect: the arguments it adds, where they go (`at`: the end or among the valid options) and what the line must name. */
interface Defect {
  args: string[];
  last?: boolean;
  names: string[];
  /** The option the defect is about (left out of the valid filler). */
  option?: string;
  /** A defect of the command line as a whole: no subcommand. */
  alone?: boolean;
}

const word = fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/);
/** Any printable text, with now and then a control character (a newline, an escape) pasted in. */
const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 6 }));

function defects(command: string): fc.Arbitrary<Defect> {
  const spec = SPEC[command]!;
  const known = new Set([...Object.keys(spec.values), ...spec.flags]);
  const valueOptions = Object.keys(spec.values);
  const options: Array<fc.Arbitrary<Defect>> = [
    // An unknown option, long or short, with or without a value.
    fc
      .tuple(word.filter((w) => !known.has(`--${w}`) && !w.startsWith('help')), fc.boolean())
      .map(([w, withValue]) => ({ args: withValue ? [`--${w}`, '1'] : [`--${w}`], names: [`unknown option '--${w}'`] })),
    fc.constantFrom(...'abcdefgijklmnopqrstuvwxyz'.split('')).map((c) => ({ args: [`-${c}`], names: [`unknown option '-${c}'`] })),
    // An argument the command does not take.
    text.filter((t) => !t.startsWith('-')).map((t) => ({ args: [t], names: ['unexpected argument'] })),
  ];
  if (valueOptions.length > 0) {
    const option = fc.constantFrom(...valueOptions);
    options.push(
      // A value option given last, without its value.
      option.map((o) => ({ args: [o], last: true, names: [`'${o} `, 'argument missing'], option: o })),
      // An empty or blank value.
      fc.tuple(option, fc.constantFrom('', ' ', '\t', '  ')).map(([o, v]) => ({ args: [o, v], names: [o], option: o })),
      // Another option where the value should be.
      fc.tuple(option, fc.constantFrom(...known, '--help')).map(([o, v]) => ({ args: [o, v], names: [`${o}: missing value`], option: o })),
    );
  }
  for (const [name, n] of Object.entries(spec.numbers)) {
    const bad = fc.oneof(
      text,
      fc.integer({ min: -1e6, max: 1e6 }).map(String),
      fc.double({ noNaN: false }).map(String),
      fc.constantFrom('1e3', '0x10', ' 5', '5 ', '+', '-', '.', '1/2', 'Infinity', 'NaN', '99999999999999999999', `${n.min}`, `${n.max ?? -1}`),
    );
    options.push(bad.filter((v) => !validNumber(v, n)).map((v) => ({ args: [name, v], names: [name, n.range], option: name })));
  }
  for (const [name, values] of Object.entries(spec.choices)) {
    options.push(text.filter((v) => !values.includes(v)).map((v) => ({ args: [name, v], names: [name, 'accepted values are'], option: name })));
  }
  if (spec.required) options.push(fc.constant({ args: [], names: [`required option '${spec.required} `], option: spec.required }));
  if ('--data' in spec.values) {
    options.push(text.filter((v) => v !== 'sample' && !/^cifar(10|100):./.test(v)).map((v) => ({ args: ['--data', v], names: ['--data'], option: '--data' })));
  }
  if ('--eps' in spec.values) {
    // Letters and most symbols are never part of a budget list.
    options.push(text.filter((v) => v === '' || /[^0-9./, ]/.test(v)).map((v) => ({ args: ['--eps', v], names: ['--eps'], option: '--eps' })));
  }
  return fc.oneof(...options);
}

/** A bad command line: a valid command with some valid options and one defect, or a defect of the program itself. */
const badCommandLine = fc.oneof(
  // No such command (anything but a command's name and `help`), or an option of the program.
  text.filter((t) => !COMMANDS.includes(t) && t !== 'help' && !t.startsWith('-')).map((t) => ({ command: '', defect: { args: [t], names: ['unknown command'], alone: true } as Defect, filler: [] as string[][] })),
  word.filter((w) => !w.startsWith('help')).map((w) => ({ command: '', defect: { args: [`--${w}`], names: [`unknown option '--${w}'`], alone: true } as Defect, filler: [] as string[][] })),
  fc.constantFrom(...COMMANDS).chain((command) => {
    const spec = SPEC[command]!;
    const pairs = Object.entries(spec.values).map(([o, v]) => [o, v]);
    return fc.record({
      command: fc.constant(command),
      defect: defects(command),
      filler: fc.shuffledSubarray([...pairs, ...spec.flags.map((f) => [f])]),
    });
  }),
);

/** The argument list: command, guard options, filler and the defect in a random slot (a missing value goes last). */
function argumentsOf(c: { command: string; defect: Defect; filler: string[][] }, slot: number): string[] {
  if (c.defect.alone) return c.defect.args;
  const spec = SPEC[c.command]!;
  const about = c.defect.option;
  const groups = c.filler.filter(([o]) => o !== about && !spec.guard.includes(o!));
  for (const g of spec.guard) if (g !== about) groups.push([g, spec.values[g]!]);
  if (about !== undefined && about === spec.required) {
    // The required option is the defect: leave it out everywhere.
    const without = groups.filter(([o]) => o !== about);
    return [c.command, ...without.flat()];
  }
  if (c.defect.last) return [c.command, ...groups.flat(), ...c.defect.args];
  groups.splice(slot % (groups.length + 1), 0, c.defect.args);
  return [c.command, ...groups.flat()];
}

describe('property: random bad command lines', () => {
  it('exit 2 with one line naming the defect and pointing to --help; nothing else printed', async () => {
    await fc.assert(
      fc.asyncProperty(badCommandLine, fc.nat(), async (c, slot) => {
        const args = argumentsOf(c, slot);
        const r = await cli(...args);
        expectUsageError(r, c.command === '' ? 'rmc-robust' : `rmc-robust ${c.command}`);
        // Only printable text (control characters of a value are escaped); the defect is named.
        expect(r.err.slice(0, -1)).not.toMatch(/[\x00-\x1f\x7f]/);
        const printable = (s: string) => s.replace(/[\x00-\x1f\x7f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
        for (const name of c.defect.names) expect(r.err, JSON.stringify(args)).toContain(printable(name));
      }),
      { seed: 20261201, numRuns: 400 },
    );
  });
});
