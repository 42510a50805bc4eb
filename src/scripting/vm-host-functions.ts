import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten'
import { PRELUDE_FILE, PRELUDE_SOURCE } from './guest-prelude.ts'
import { readGuestText } from './guest-text.ts'
import { lastValueToGuest } from './last-value-guest.ts'
import type { LastValueReply, LogLevel } from './protocol.ts'

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']

/**
 * The primitives the prelude builds the script API on (its `host` argument), as plain values:
 * this module turns guest handles into them and back. A host function that throws throws in
 * the guest.
 */
export interface HostCalls {
  log(level: LogLevel, text: string): void
  subscribe(filter: string, callback: QuickJSHandle, changes: boolean): number
  unsubscribe(id: number): boolean
  credentials(kind: 'user' | 'pass', value: string | undefined): void
  port(port: number): void
  setTimer(callback: QuickJSHandle, ms: number, repeat: boolean): number
  clearTimer(id: number): void
  /** A full chunk of queued publishes from a long publishing loop (borrowed handle). */
  publishBatch(chunk: QuickJSHandle): void
  get(topic: string): LastValueReply | undefined
  /** The guest's clock moved during a batch: the CPU deadline starts again for the next callback. */
  tick(): void
  callbackError(error: QuickJSHandle, index: number): void
  asyncError(error: QuickJSHandle, what: string): void
  fetch(
    url: QuickJSHandle,
    method: QuickJSHandle,
    headers: QuickJSHandle,
    body: QuickJSHandle,
    timeoutMs: QuickJSHandle,
  ): QuickJSHandle
  schedule(spec: string, callback: QuickJSHandle): number
  unschedule(id: number): boolean
  nextRun(id: number): number | undefined
  /** Publishes the guest queues in one call at most; more are dropped there and counted. */
  readonly maxQueuedPublishes: number
}

/** What the prelude returns: the functions the host calls into (each handle owned by the caller). */
export interface GuestApi {
  dispatch: QuickJSHandle
  resume: QuickJSHandle
  position: QuickJSHandle
  drain: QuickJSHandle
  persistInit: QuickJSHandle
  persistJson: QuickJSHandle
  consoleEval: QuickJSHandle
  consoleShow: QuickJSHandle
}

type HostFunction = (...args: QuickJSHandle[]) => QuickJSHandle | undefined

/** Evaluates the prelude with `calls` as its host primitives and returns the API it hands back. */
export function installPrelude(ctx: QuickJSContext, calls: HostCalls): GuestApi {
  const bool = (b: boolean) => (b ? ctx.true : ctx.false)
  const fns: Record<string, HostFunction> = {
    log: (level, text) => {
      const lvl = ctx.getString(level)
      calls.log(LOG_LEVELS.find((l) => l === lvl) ?? 'info', readGuestText(ctx, text))
      return undefined
    },
    subscribe: (filter, callback, changes) =>
      ctx.newNumber(
        calls.subscribe(
          ctx.getString(filter),
          callback,
          changes !== undefined && ctx.getNumber(changes) === 1,
        ),
      ),
    unsubscribe: (id) => bool(calls.unsubscribe(ctx.getNumber(id))),
    credentials: (kind, value) => {
      const v = ctx.typeof(value) === 'string' ? ctx.getString(value) : undefined
      calls.credentials(ctx.getString(kind) === 'user' ? 'user' : 'pass', v)
      return undefined
    },
    port: (port) => {
      calls.port(ctx.getNumber(port))
      return undefined
    },
    setTimer: (callback, ms, repeat) =>
      ctx.newNumber(calls.setTimer(callback, ctx.getNumber(ms), ctx.dump(repeat) === true)),
    publishBatch: (chunk) => {
      calls.publishBatch(chunk)
      return undefined
    },
    get: (topic) => lastValueToGuest(ctx, calls.get(ctx.getString(topic))),
    tick: () => {
      calls.tick()
      return undefined
    },
    callbackError: (error, index) => {
      calls.callbackError(error, ctx.getNumber(index))
      return undefined
    },
    asyncError: (error, what) => {
      calls.asyncError(error, ctx.getString(what))
      return undefined
    },
    clearTimer: (id) => {
      calls.clearTimer(ctx.getNumber(id))
      return undefined
    },
    fetch: (url, method, headers, body, timeoutMs) => calls.fetch(url, method, headers, body, timeoutMs),
    schedule: (spec, callback) => ctx.newNumber(calls.schedule(ctx.getString(spec), callback)),
    unschedule: (id) => bool(calls.unschedule(ctx.getNumber(id))),
    nextRun: (id) => {
      const at = calls.nextRun(ctx.getNumber(id))
      return at === undefined ? undefined : ctx.newNumber(at)
    },
  }
  const hostApi = ctx.newObject()
  for (const [key, impl] of Object.entries(fns)) {
    const fn = ctx.newFunction(key, impl)
    ctx.setProp(hostApi, key, fn)
    fn.dispose()
  }
  const maxQueued = ctx.newNumber(calls.maxQueuedPublishes)
  ctx.setProp(hostApi, 'maxQueuedPublishes', maxQueued)
  maxQueued.dispose()
  const factory = ctx.unwrapResult(
    ctx.evalCode(PRELUDE_SOURCE, PRELUDE_FILE, { type: 'global', strict: true }),
  )
  const api = ctx.callFunction(factory, ctx.undefined, hostApi)
  factory.dispose()
  hostApi.dispose()
  const apiObject = ctx.unwrapResult(api)
  try {
    const get = (key: keyof GuestApi) => ctx.getProp(apiObject, key)
    return {
      dispatch: get('dispatch'),
      resume: get('resume'),
      position: get('position'),
      drain: get('drain'),
      persistInit: get('persistInit'),
      persistJson: get('persistJson'),
      consoleEval: get('consoleEval'),
      consoleShow: get('consoleShow'),
    }
  } finally {
    apiObject.dispose()
  }
}
