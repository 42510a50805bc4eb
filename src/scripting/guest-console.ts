/**
 * Guest half of the dashboard console, spliced into the prelude (it uses the prelude's `g` and
 * `fmt`). An expression is evaluated with a direct eval inside a closure the script's own module
 * hands over at the end of its top level (see withConsoleHook), so it reads and assigns the
 * module's top-level `let`/`const`/functions like code written in the script. Until then (or if
 * the top level never finished) it runs as a global script.
 */

/** The global the appended line calls; it deletes itself on the first call. */
export const CONSOLE_HOOK = '__tinymqtt_console__'
/** Characters of a result shown at most; the rest is counted, not sent. */
export const MAX_CONSOLE_RESULT = 10_000

/**
 * The script's source with the console's hook appended on a line of its own after the last one,
 * so the script's own line and column numbers do not change.
 */
export function withConsoleHook(code: string): string {
  return `${code}\n;${CONSOLE_HOOK}((__tinymqtt_expression__) => eval(__tinymqtt_expression__))\n`
}

export const CONSOLE_PRELUDE_SOURCE = `
  let consoleScope
  Object.defineProperty(g, '${CONSOLE_HOOK}', {
    value: (scope) => {
      if (consoleScope === undefined && typeof scope === 'function') consoleScope = scope
      delete g.${CONSOLE_HOOK}
    },
    writable: false, enumerable: false, configurable: true,
  })
  const globalEval = eval
  const consoleEval = (expression) => {
    const run = consoleScope || ((e) => globalEval(e))
    try {
      return run(expression)
    } catch (e) {
      // 'await' is not allowed in eval code: an expression that failed to parse because of it
      // runs again as the body of an async arrow (a parse error's fileName is the eval's own).
      if (e instanceof SyntaxError && e.fileName === '<input>' && /\\bawait\\b/.test(expression)) {
        return run('(async () => (' + expression + '\\n))()')
      }
      throw e
    }
  }
  const consoleShow = (v) => {
    const s = typeof v === 'string' ? JSON.stringify(v) : v instanceof Error ? v.name + ': ' + v.message : fmt(v)
    const max = ${MAX_CONSOLE_RESULT}
    return s.length > max ? s.slice(0, max) + '… (' + (s.length - max) + ' more characters)' : s
  }
  const consoleApi = { consoleEval, consoleShow }
`
