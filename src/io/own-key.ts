/** Records keyed by names read from files. */

/**
 * Sets `target[key] = value` as an own, enumerable data property, whatever the key: a name such as
 * `__proto__` read from a file becomes an ordinary entry instead of changing the object's prototype.
 */
export function setOwn(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
