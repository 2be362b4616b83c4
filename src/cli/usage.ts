/**
 * The command line's usage contract: exit codes, one-line error messages, and the checks of option
 * values made while the arguments are parsed (before any command starts work).
 *
 * Exit codes: 0 success (and `--help`), 1 a runtime failure (an unreachable site, a corrupt file, ...),
 * 2 a usage error (unknown command or option, extra argument, missing or bad value), 130 `train`
 * interrupted by Ctrl-C. Every error is one line on stderr, `rmc-robust: <message>`, and usage errors
 * end with a pointer to the command's `--help`; no stack trace.
 */
import { CommanderError, type Command, type Option } from 'commander';
import { parseInteger, UsageError } from './common.js';

/** The exit codes of the command line. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/**
 * What the command line prints and returns for an error thrown while running `command` (the
 * subcommand being parsed or run, or the program itself): one line (no trailing newline) and the exit
 * code. Commander's errors become one line without the help text; help and version requests exit 0
 * with no line.
 */
export function describeFailure(error: unknown, command: Command): { line: string | null; code: number } {
  const help = `see '${commandPath(command)} --help'`;
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return { line: null, code: EXIT.ok };
    return { line: `rmc-robust: ${oneLine(commanderMessage(error, command))}; ${help}`, code: EXIT.usage };
  }
  const message = oneLine(error instanceof Error ? error.message : String(error));
  if (error instanceof UsageError) return { line: `rmc-robust: ${message}${error.pointToHelp ? `; ${help}` : ''}`, code: EXIT.usage };
  // The library's argument checks: the command line passed a value it did not check itself.
  if (error instanceof RangeError || error instanceof TypeError) return { line: `rmc-robust: ${message}`, code: EXIT.usage };
  return { line: `rmc-robust: ${message}`, code: EXIT.failure };
}

/** `rmc-robust train` for the train subcommand, `rmc-robust` for the program. */
function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Commander's message for a parse error, reworded where it would not say what was wrong in one line. */
function commanderMessage(error: CommanderError, command: Command): string {
  const text = error.message.replace(/^error: /, '').replace(/\(Did you mean/, '(did you mean');
  switch (error.code) {
    case 'commander.help': {
      // Commander prints the help when no command is given (or `help <unknown>`); we say it in a line.
      const unknown = command.args[0] === 'help' ? command.args[1] : undefined;
      const names = command.commands.map((c) => c.name()).join(', ');
      return unknown !== undefined ? `unknown command ${quoted(unknown)} (the commands are ${names})` : `missing command: one of ${names}`;
    }
    case 'commander.excessArguments': {
      const extra = command.args.slice(command.registeredArguments.length);
      const takes = command.registeredArguments.length === 0 ? 'options only' : command.registeredArguments.map((a) => `<${a.name()}>`).join(' ') + ' and options';
      return `unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map(quoted).join(', ')} ('${command.name()}' takes ${takes})`;
    }
    default:
      return text.replace(/\.$/, '');
  }
}

function quoted(text: string): string {
  return `'${text}'`;
}

/**
 * `message` on one line: its lines joined with spaces, other control characters (tabs, escape
 * sequences of a pasted argument) shown as `\xNN`, so a message never spans or rewrites lines.
 */
export function oneLine(message: string): string {
  return message
    .split(/\r?\n|[\r\u2028\u2029\u0085]/)
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .join(' ')
    .replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * Makes every option of `command` that takes a value reject, at parse time, a value that is another
 * of its options (`--out --resume`: the value was forgotten) and an empty or blank value (`--epochs ''`
 * must not mean "the default"). Options with their own parser (numbers, choices) run it after these
 * checks; it names the accepted range.
 */
export function checkOptionValues(command: Command): void {
  const flags = new Set(command.options.flatMap((o) => [o.long, o.short]).filter((f): f is string => f !== undefined));
  flags.add('--help').add('-h');
  for (const option of command.options) {
    if (!option.required && !option.optional) continue;
    const parse = option.parseArg as ((value: string, previous: unknown) => unknown) | undefined;
    option.argParser((value: string, previous: unknown) => {
      const name = optionName(option);
      if (flags.has(value.split('=')[0]!)) throw new UsageError(`${name}: missing value (got the option ${quoted(value)})`);
      if (parse) return parse(value, previous);
      if (value.trim() === '') throw new UsageError(`${name} ${quoted(value)}: expected ${option.flags.slice(option.flags.indexOf(' ') + 1)}, not an empty value`);
      return value;
    });
  }
}

function optionName(option: Option): string {
  return option.long ?? option.short ?? option.flags;
}

/** A parse-time check of a choice: the value itself, when it is one of `values`. */
export function choiceValue(option: string, values: readonly string[]): (text: string) => string {
  return (text) => {
    if (!values.includes(text)) throw new UsageError(`${option} ${quoted(text)}: accepted values are ${values.join(', ')}`);
    return text;
  };
}

/** A parse-time check by `parse` (which throws a {@link UsageError}); the text is kept for the command. */
export function checkedValue(parse: (text: string) => unknown): (text: string) => string {
  return (text) => {
    parse(text);
    return text;
  };
}

/** A parse-time check of an integer option in [min, max]. */
export function integerValue(option: string, min: number, max?: number): (text: string) => string {
  return checkedValue((text) => parseInteger(text, option, min, max));
}
