/**
 * The check both residual layers ({@link BatchNorm2d} with `residual: true`, {@link ResidualAdd}) make of
 * their inputs `[x, shortcut]`: one shape (an undefined size, `null`, matches any).
 * @internal
 */
export function checkShortcutShape(layer: string, input: readonly (number | null)[], shortcut: readonly (number | null)[]): void {
  const matches = shortcut.length === input.length && shortcut.every((size, i) => size == null || input[i] == null || size === input[i]);
  if (!matches) throw new RangeError(`${layer}: the shortcut's shape [${shortcut.join(', ')}] differs from the input's [${input.join(', ')}]`);
}
