/**
 * For a value a test expects to be there (an array element, a map entry, a regex group): the
 * test fails with a message naming it, instead of a TypeError somewhere later.
 */
export function defined<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new Error(`expected ${what}, got ${value}`)
  return value
}
