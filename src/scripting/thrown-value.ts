import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten'
import type { LimitKind, ThrownParts } from './error-location.ts'
import type { ScriptLimits } from './options.ts'

/**
 * Reads what a script threw (borrowed handle, not disposed) into plain parts, and turns
 * QuickJS's terse limit errors into messages that name the limit and what happened.
 * `heapFull`: the VM's memory is at its ceiling (vm-limits.ts), where QuickJS may fail to
 * allocate even the message of its "out of memory" error.
 */
export function readThrown(
  ctx: QuickJSContext,
  handle: QuickJSHandle,
  limits: ScriptLimits,
  heapFull = false,
): ThrownParts {
  if (ctx.sameValue(handle, ctx.null)) {
    // QuickJS throws null when it cannot even allocate the error object: the memory limit.
    return {
      name: 'InternalError',
      message: `out of memory: exceeded the memory limit of ${limits.memoryLimitBytes} bytes (no room left for the error's stack); this call was aborted, the script keeps running`,
      limit: 'memory',
    }
  }
  if (ctx.typeof(handle) !== 'object') {
    const value: unknown = ctx.dump(handle)
    return { message: `uncaught ${String(value)}` }
  }
  const str = (key: string): string | undefined => {
    const h = ctx.getProp(handle, key)
    try {
      return ctx.typeof(h) === 'string' ? ctx.getString(h) : undefined
    } finally {
      h.dispose()
    }
  }
  const lineHandle = ctx.getProp(handle, 'lineNumber')
  const lineNumber = ctx.typeof(lineHandle) === 'number' ? ctx.getNumber(lineHandle) : undefined
  lineHandle.dispose()
  const name = str('name')
  let message = str('message') ?? ''
  let limit: LimitKind | undefined
  if (message === 'out of memory' || (heapFull && message === '' && name === 'InternalError')) {
    limit = 'memory'
    message = `out of memory: exceeded the memory limit of ${limits.memoryLimitBytes} bytes; this call was aborted, the script keeps running`
  } else if (message === 'interrupted') {
    limit = 'cpu'
    message = `interrupted: exceeded the CPU limit of ${limits.cpuLimitMs} ms; this call was aborted, the script keeps running`
  } else if (message === 'stack overflow') {
    limit = 'stack'
    message = `stack overflow: exceeded the stack limit of ${limits.maxStackSizeBytes} bytes; this call was aborted, the script keeps running`
  }
  return { name, message, stack: str('stack'), lineNumber, limit }
}
