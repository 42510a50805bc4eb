/**
 * For values the code's own logic guarantees (a regex group that always takes part, an index
 * inside a loop bound, a field set before the first call): when one is missing anyway, that is a
 * bug in tinymqtt, never bad input, and it fails loudly with a name instead of `undefined`
 * spreading further. Input from clients, files and scripts is checked where it arrives instead.
 */
export class InvariantError extends Error {
  override name = 'InvariantError'
}

/** Returns `value`, or throws InvariantError naming `what` when it is undefined (or null). */
export function present<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null)
    throw new InvariantError(`${what} is missing (a bug in tinymqtt)`)
  return value
}
