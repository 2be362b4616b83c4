/**
 * Stride configurations in the paper's notation.
 *
 * The paper writes a network's per-stage strides as `s1-s2-s3-s4` (ResNet18's default is 1-2-2-2, the
 * robust modification 1-1-2-2); the reference code takes the same as a digit string (`"1222"`).
 */

/** A stride configuration: `'1-1-2-2'`, `'1122'` or `[1, 1, 2, 2]`. */
export type StrideSpec = string | readonly number[];

/** Options of {@link parseStrides}. */
export interface ParseStridesOptions {
  /** Number of strides the architecture takes (4 for ResNet18, 5 for VGG16, 3 for WideResNet). */
  count: number;
  /** Name of the option in error messages (default `'strides'`). */
  name?: string;
  /** Architecture name for error messages, e.g. `'resnet18'`. */
  architecture?: string;
}

/**
 * Parses a stride configuration into an array of positive integers.
 *
 * Accepts the paper's dashed form (`'1-2-2-2'`), the reference code's digit string (`'1222'`, one digit
 * per stride) or an array of numbers. Throws a `RangeError` naming the option when the string is
 * malformed, the count differs from `count`, or a stride is not a positive integer.
 *
 * @example parseStrides('1-1-2-2', { count: 4 }) // [1, 1, 2, 2]
 */
export function parseStrides(strides: StrideSpec, options: ParseStridesOptions): number[] {
  const name = options.name ?? 'strides';
  const arch = options.architecture ? ` for ${options.architecture}` : '';
  const expected = `${options.count} positive integers${arch}, e.g. '${defaultExample(options.count)}', '${defaultExample(options.count).replace(/-/g, '')}' or [${defaultExample(options.count).replace(/-/g, ', ')}]`;
  let values: number[];
  if (typeof strides === 'string') {
    const text = strides.trim();
    if (text.includes('-')) {
      values = text.split('-').map((part) => (/^\d+$/.test(part.trim()) ? Number(part.trim()) : NaN));
    } else if (/^\d+$/.test(text)) {
      values = [...text].map(Number);
    } else {
      throw new RangeError(`${name}: cannot parse '${strides}'; expected ${expected}`);
    }
    if (values.some((v) => Number.isNaN(v))) {
      throw new RangeError(`${name}: cannot parse '${strides}'; expected ${expected}`);
    }
  } else if (Array.isArray(strides)) {
    values = [...strides];
  } else {
    throw new TypeError(`${name}: expected a string or an array of numbers, got ${typeof strides}; expected ${expected}`);
  }
  if (values.length !== options.count) {
    throw new RangeError(
      `${name}: got ${values.length} stride${values.length === 1 ? '' : 's'} (${JSON.stringify(strides)}); expected ${expected}`,
    );
  }
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new RangeError(`${name}[${i}] = ${String(v)} is not allowed; every stride must be an integer >= 1 (${expected})`);
    }
  });
  return values;
}

/** Formats strides in the paper's notation, e.g. `[1, 1, 2, 2]` -> `'1-1-2-2'`. */
export function formatStrides(strides: readonly number[]): string {
  return strides.join('-');
}

function defaultExample(count: number): string {
  return ['1', ...Array<string>(Math.max(0, count - 1)).fill('2')].join('-');
}
