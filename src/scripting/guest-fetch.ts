import {
  errors,
  type QuickJSContext,
  type QuickJSDeferredPromise,
  type QuickJSHandle,
} from 'quickjs-emscripten'
import {
  type FetchLimits,
  type FetchOutcome,
  FetchQueue,
  type FetchRequest,
  fetchUrlProblem,
  type PerformFetch,
  performFetch,
} from './fetch.ts'
import { copyBytes } from './guest-batches.ts'
import { newGuestText, readGuestText } from './guest-text.ts'

/**
 * One VM's ms_fetch: turns the prelude's call into a FetchQueue request and settles the guest
 * promise (a QuickJS deferred) when it completes. The deferreds are owned here: each is
 * disposed exactly once, after it settles or when the VM goes away with it still pending.
 */
export class GuestFetches {
  private readonly queue: FetchQueue
  private readonly pending = new Set<QuickJSDeferredPromise>()

  /**
   * `enter` runs a body inside the VM's call bracket (CPU deadline, watchdog, pending promise
   * jobs afterwards); it is how a completed request reaches the script's `then` callbacks.
   * The body returns a problem to log when the result could not be handed to the script.
   */
  constructor(
    private readonly ctx: QuickJSContext,
    private readonly limits: FetchLimits,
    private readonly enter: (body: () => string | undefined) => void,
    perform: PerformFetch = performFetch,
  ) {
    this.queue = new FetchQueue(limits, perform)
  }

  /**
   * The host primitive behind ms_fetch(url, method, headers JSON, body, timeoutMs), arguments
   * borrowed and already checked by the prelude. Returns the guest promise.
   */
  start(
    url: QuickJSHandle,
    method: QuickJSHandle,
    headers: QuickJSHandle,
    body: QuickJSHandle,
    timeoutMs: QuickJSHandle,
  ): QuickJSHandle {
    const ctx = this.ctx
    const request: FetchRequest = {
      url: ctx.getString(url),
      method: ctx.getString(method),
      headers: JSON.parse(ctx.getString(headers)) as Record<string, string>,
      body: readBody(ctx, body),
      timeoutMs: ctx.getNumber(timeoutMs) || this.limits.fetchTimeoutMs,
    }
    const problem = fetchUrlProblem(request.url)
    if (problem) throw new TypeError(`ms_fetch: ${problem}`)
    const deferred = ctx.newPromise()
    this.pending.add(deferred)
    this.queue.request(request, (outcome) => this.settle(deferred, outcome))
    // The function-call machinery disposes the returned handle; the resolvers stay with us.
    return deferred.handle
  }

  /** Aborts every request. With `disposeHandles` false (the VM crashed) its memory is left alone. */
  close(disposeHandles: boolean): void {
    this.queue.close()
    if (disposeHandles) for (const deferred of this.pending) deferred.dispose()
    this.pending.clear()
  }

  private settle(deferred: QuickJSDeferredPromise, outcome: FetchOutcome): void {
    if (!this.pending.delete(deferred)) return
    const ctx = this.ctx
    this.enter(() => {
      try {
        if ('error' in outcome) {
          const error = ctx.newError({ name: 'Error', message: outcome.error })
          try {
            deferred.reject(error)
          } finally {
            error.dispose()
          }
          return undefined
        }
        const { status, statusText, headers, text } = outcome.response
        // [status, statusText, headers JSON, text]; the prelude builds the response object.
        const value = ctx.newArray()
        const parts = [
          ctx.newNumber(status),
          ctx.newString(statusText),
          ctx.newString(JSON.stringify(headers)),
        ]
        parts.push(newGuestText(ctx, text))
        parts.forEach((part, i) => {
          ctx.setProp(value, i, part)
          part.dispose()
        })
        try {
          deferred.resolve(value)
        } finally {
          value.dispose()
        }
        return undefined
      } catch (e) {
        // The guest threw while taking the value (out of memory): its promise stays pending.
        // Anything else is a fault of the VM itself and goes on to the crash handling.
        if (e instanceof errors.QuickJSUnwrapError)
          return `ms_fetch: the result could not be handed over: ${e.message}`
        throw e
      } finally {
        deferred.dispose()
      }
    })
  }
}

/** The prelude's body: an ArrayBuffer, or text as its toHost() made it (a string or its parts). */
function readBody(ctx: QuickJSContext, body: QuickJSHandle): string | Uint8Array | undefined {
  const type = ctx.typeof(body)
  if (type === 'string') return ctx.getString(body)
  if (type !== 'object') return undefined
  const byteLength = ctx.getProp(body, 'byteLength')
  const binary = ctx.typeof(byteLength) === 'number'
  byteLength.dispose()
  return binary ? copyBytes(ctx, body) : readGuestText(ctx, body)
}
