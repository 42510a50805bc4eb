/**
 * Script errors: their shape, where in the script's sources they happened, and their log line.
 * Imports nothing, so the host, the worker and the wire protocol can all name ScriptError.
 */

/** Which per-script limit aborted a call: set by readThrown from QuickJS's own error. */
export type LimitKind = 'memory' | 'cpu' | 'stack'

/** A script error, already located: `where` is `file:line:column` when the stack had a frame. */
export interface ScriptError {
  where: string
  message: string
  stack?: string | undefined
  /** Set when the error is a limit aborting the call rather than the script's own throw. */
  limit?: LimitKind | undefined
}

const FRAME = /([^\s()]+):(\d+):(\d+)/
const MAX_STACK_LINES = 6

/** The raw parts QuickJS gives for a thrown value. */
export interface ThrownParts {
  name?: string | undefined
  message: string
  stack?: string | undefined
  fileName?: string | undefined
  lineNumber?: number | undefined
  /** The limit QuickJS reported, when the thrown value is one of its limit errors. */
  limit?: LimitKind | undefined
}

/**
 * Turns a QuickJS error into `file:line:column` plus message. The first frame that names
 * the script (or, per `isOwnFile`, one of the modules it imports) wins; syntax errors have
 * only that frame. Long stacks are cut so one bad script cannot flood the log.
 */
export function locateError(
  file: string,
  parts: ThrownParts,
  isOwnFile: (name: string) => boolean = (name) => name === file,
): ScriptError {
  const lines = (parts.stack ?? '').split('\n').filter((l) => l.trim() !== '')
  let where = file
  for (const line of lines) {
    const m = FRAME.exec(line)
    const name = m?.[1]
    if (m && name !== undefined && isOwnFile(name)) {
      where = `${m[1]}:${m[2]}:${m[3]}`
      break
    }
  }
  if (where === file && parts.lineNumber !== undefined) where = `${file}:${parts.lineNumber}:1`
  const message = parts.name && parts.name !== 'Error' ? `${parts.name}: ${parts.message}` : parts.message
  const kept = lines.slice(0, MAX_STACK_LINES)
  if (lines.length > MAX_STACK_LINES) kept.push(`    … ${lines.length - MAX_STACK_LINES} more frames`)
  const stack = kept.length > 0 ? kept.join('\n') : undefined
  return parts.limit === undefined ? { where, message, stack } : { where, message, stack, limit: parts.limit }
}

export function formatScriptError(error: ScriptError): string {
  return `${error.where} ${error.message}`
}
