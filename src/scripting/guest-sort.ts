/**
 * Makes the default sort interruptible, spliced into the prelude. QuickJS checks the CPU
 * deadline only between bytecode instructions and inside regular expressions, so a native sort
 * without a comparator runs to its end however long it takes: about 240 ms for 320,000 strings
 * within the default 32 MiB, past the hard stop with a larger memory limit. Given a comparator
 * written in JavaScript, QuickJS runs bytecode for every comparison and the deadline holds.
 * Small arrays keep the native path, so ordinary scripts pay nothing.
 */
export const SORT_PRELUDE_SOURCE = `
  const NATIVE_SORT_MAX = 4096
  // The spec's default order: undefined last (the engine moves those before comparing), the
  // rest by their strings' UTF-16 code units.
  const stringOrder = (a, b) => {
    const x = String(a)
    const y = String(b)
    return x < y ? -1 : x > y ? 1 : 0
  }
  // A typed array's default order: numeric, -0 before +0, NaN last.
  const numericOrder = (a, b) => {
    if (a !== a) return b !== b ? 0 : 1
    if (b !== b) return -1
    if (a < b) return -1
    if (a > b) return 1
    if (typeof a === 'number' && a === 0 && b === 0) {
      const negA = 1 / a < 0
      return negA === (1 / b < 0) ? 0 : negA ? -1 : 1
    }
    return 0
  }
  const wrapSort = (proto, order) => {
    const native = proto.sort
    const sort = function sort(compare) {
      if (compare === undefined && this.length > NATIVE_SORT_MAX) return native.call(this, order)
      return native.call(this, compare)
    }
    Object.defineProperty(proto, 'sort', { value: sort, writable: true, enumerable: false, configurable: true })
  }
  wrapSort(Array.prototype, stringOrder)
  wrapSort(Object.getPrototypeOf(Int8Array.prototype), numericOrder)
`
