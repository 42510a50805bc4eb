import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  RELEASE_SYNC,
} from 'quickjs-emscripten'
import type { LongTimer } from '../util/long-timer.ts'
import { ChangeFilter } from './change-filter.ts'
import { formatScriptError, locateError, type ThrownParts } from './error-location.ts'
import { withConsoleHook } from './guest-console.ts'
import { packDeliveries, readPublishChunk } from './guest-batches.ts'
import { GuestFetches } from './guest-fetch.ts'
import { PRELUDE_FILE, PRELUDE_SOURCE } from './guest-prelude.ts'
import { HandleRegistry } from './handle-registry.ts'
import { lastValueToGuest } from './last-value-guest.ts'
import { ScriptImports } from './module-loader.ts'
import type { ScriptLimits } from './options.ts'
import { PersistSaver } from './persist-saver.ts'
import type { FromWorker, LimitKind, LogLevel, ScriptError, SyncReply, SyncRequest } from './protocol.ts'
import { RateLimiter } from './rate-limiter.ts'
import { compileSchedule, Scheduler } from './schedules.ts'
import { type ConsoleOutcome, type ConsoleReply, GuestConsole, waitForConsole } from './script-console.ts'
import { readThrown } from './thrown-value.ts'
import type { Delivery } from './thread-batches.ts'
import { topicFilterProblem, topicNameProblem } from './topic-rules.ts'
import { realEnvironment, type VmEnvironment } from './vm-environment.ts'
import { type WasmMemory, type WasmModule, wasm } from './wasm.ts'

/** What a VM needs from the worker around it. */
export interface VmHost {
  send(msg: FromWorker): void
  syncRequest(req: SyncRequest): SyncReply
  /** Brackets every call into a VM so the watchdog on the main thread can see it running. */
  enterCall(vmId: number): void
  leaveCall(): void
  /** The VM's WebAssembly instance failed (abort, memory fault); it is abandoned, not disposed. */
  onCrash(vm: ScriptVm, error: ScriptError): void
}

const PAGE = 65536
const INITIAL_PAGES = 256 // the QuickJS build's own INITIAL_MEMORY (16 MiB)
/** Headroom between QuickJS's malloc limit and the WebAssembly cap so QuickJS fails first, cleanly. */
const WASM_HEADROOM = 2 * 1024 * 1024
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']
/** Messages per guest call; bounds the packed strings and the work between deadline checks. */
const MAX_BATCH = 1024
/** At most one throttle report, and one limit report per kind, per this period (and VM). */
const REPORT_INTERVAL_MS = 1000

/**
 * One script version: its own WebAssembly instance with capped memory, one runtime and
 * one context. Every call into the guest goes through `run()`, which arms the CPU deadline,
 * tells the watchdog, and defers disposal of handles (or of the whole VM) until the
 * outermost call has returned.
 */
export class ScriptVm {
  private readonly subs: HandleRegistry
  private readonly timers: HandleRegistry
  private readonly hostTimers = new Map<number, LongTimer>()
  /** ms_schedule callbacks, by the same id as their entry in `scheduler`. */
  private readonly schedules: HandleRegistry
  private readonly scheduler: Scheduler
  private readonly publishLimiter: RateLimiter
  private readonly logLimiter: RateLimiter
  private throttleReportAt = 0
  private readonly limitReportAt: Record<LimitKind, number> = { memory: 0, cpu: 0, stack: 0 }
  private logDropReportAt = 0
  private nextSubId = 1
  private nextTimerId = 1
  private reportedTimers = 0
  private depth = 0
  private deadline = 0
  private disposeRequested = false
  private dead = false
  private dispatch: QuickJSHandle | undefined
  private resume: QuickJSHandle | undefined
  private position: QuickJSHandle | undefined
  private drain: QuickJSHandle | undefined
  private droppedPublishes = 0
  private inbox: Delivery[] = []
  /** The deliveries of the batch being dispatched, for naming the topic in error logs. */
  private batch: Delivery[] | undefined
  private namespace: QuickJSHandle | undefined
  /** Which files are this script's own in stack traces: itself and the modules it imports. */
  private isOwnFile = (file: string): boolean => file === this.name
  private persistInit: QuickJSHandle | undefined
  private persistJson: QuickJSHandle | undefined
  private persistSaver: PersistSaver | undefined
  /** Set once the state was saved on the way out, so the dispose that follows does not save again. */
  private persistFinal = false
  /** Subscriptions made with `{ changes: true }`, by subId. */
  private readonly changeFilters = new Map<number, ChangeFilter>()
  private readonly fetches: GuestFetches
  /** The dashboard console's way into the running script. */
  private console: GuestConsole | undefined

  private constructor(
    readonly name: string,
    readonly vmId: number,
    private readonly limits: ScriptLimits,
    private readonly host: VmHost,
    private readonly runtime: QuickJSRuntime,
    private readonly ctx: QuickJSContext,
    private readonly memory: WasmMemory,
    private readonly env: VmEnvironment,
  ) {
    this.scheduler = new Scheduler((id, at) => this.fireSchedule(id, at), env.scheduleClock)
    this.subs = new HandleRegistry(() => this.depth > 0)
    this.timers = new HandleRegistry(() => this.depth > 0)
    this.schedules = new HandleRegistry(() => this.depth > 0)
    this.publishLimiter = new RateLimiter(limits.publishRatePerSecond, limits.publishBurst)
    this.logLimiter = new RateLimiter(limits.logRatePerSecond, limits.logRatePerSecond)
    this.fetches = new GuestFetches(ctx, limits, (body) => this.settleFetch(body), env.fetch)
  }

  static async create(
    name: string,
    vmId: number,
    limits: ScriptLimits,
    wasmModule: WasmModule,
    host: VmHost,
    env: VmEnvironment = realEnvironment,
  ): Promise<ScriptVm> {
    const maximum = Math.max(INITIAL_PAGES + 1, Math.floor(limits.memoryLimitBytes / PAGE))
    const wasmMemory = new wasm.Memory({ initial: INITIAL_PAGES, maximum })
    const module = await newQuickJSWASMModuleFromVariant(newVariant(RELEASE_SYNC, { wasmModule, wasmMemory }))
    const runtime = module.newRuntime()
    runtime.setMemoryLimit(Math.max(1024 * 1024, maximum * PAGE - INITIAL_PAGES * PAGE - WASM_HEADROOM))
    runtime.setMaxStackSize(limits.maxStackSizeBytes)
    const ctx = runtime.newContext()
    const vm = new ScriptVm(name, vmId, limits, host, runtime, ctx, wasmMemory, env)
    // The CPU deadline is on the monotonic clock: a wall clock set back (or the test harness's
    // fake Date) must not stretch a call's time.
    runtime.setInterruptHandler(() => performance.now() > vm.deadline)
    // The prelude is ours; it runs before any deadline applies.
    vm.deadline = Number.POSITIVE_INFINITY
    vm.installApi()
    vm.deadline = 0
    return vm
  }

  /** Bytes of WebAssembly memory this VM holds; never above the cap. */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength
  }

  get alive(): boolean {
    return !this.dead && !this.disposeRequested
  }

  /**
   * Evaluates the script as an ES module, its imports served from `modules` (folder-relative
   * name → source); returns the error if the top level failed.
   */
  evaluate(code: string, modules: ReadonlyMap<string, string> = new Map()): ScriptError | undefined {
    const imports = new ScriptImports(this.name, code, modules)
    this.isOwnFile = imports.isOwnFile
    this.runtime.setModuleLoader(imports.load, imports.normalize)
    return this.run('load', () => {
      const result = this.ctx.evalCode(withConsoleHook(code), this.name, { type: 'module', strict: true })
      if (result.error) return imports.locate(this.takeError(result.error))
      const settled = this.settle(result.value)
      if ('error' in settled) return imports.locate(settled.error)
      this.namespace = settled.value
      return undefined
    })
  }

  /**
   * Evaluates a dashboard console expression in the script's module scope, under the same limits
   * as its callbacks; its publishes go out like the script's own.
   */
  consoleEval(expression: string): ConsoleReply | Promise<ConsoleReply> {
    const guestConsole = this.console
    if (!guestConsole || !this.alive) return { ok: false, error: `${this.name} is not running` }
    let outcome: ConsoleOutcome | undefined
    const error = this.run('console', () => {
      outcome = guestConsole.evaluate(expression)
      return 'reply' in outcome ? outcome.error : undefined
    })
    if (outcome !== undefined && 'pending' in outcome) {
      if (!error) return waitForConsole(this, guestConsole, outcome.pending)
      guestConsole.forget(outcome.pending)
      return this.consoleFailed(error)
    }
    return this.consoleReply(outcome?.reply, error)
  }

  /** Formats a settled console promise inside the usual call bracket. */
  finishConsole(guestConsole: GuestConsole, promise: QuickJSHandle): ConsoleReply {
    let reply: ConsoleReply | undefined
    const error = this.run('console', () => {
      const finished = guestConsole.finish(promise)
      reply = finished.reply
      return finished.error
    })
    return this.consoleReply(reply, error)
  }

  /** A VM that crashed answers with the crash; other errors are already in the reply. */
  private consoleReply(reply: ConsoleReply | undefined, error: ScriptError | undefined): ConsoleReply {
    if (reply === undefined || (error !== undefined && reply.ok)) return this.consoleFailed(error)
    return reply
  }

  private consoleFailed(error: ScriptError | undefined): ConsoleReply {
    return { ok: false, error: error ? formatScriptError(error) : `${this.name} is not running` }
  }

  /** Calls an optional export (`init` / `deinit`); missing exports are fine. */
  callExport(exportName: 'init' | 'deinit'): ScriptError | undefined {
    const ns = this.namespace
    if (!ns || !this.alive) return undefined
    return this.run(exportName, () => {
      const fn = this.ctx.getProp(ns, exportName)
      try {
        if (this.ctx.typeof(fn) !== 'function') return undefined
        const result = this.ctx.callFunction(fn, this.ctx.undefined)
        if (result.error) return this.takeError(result.error)
        const settled = this.settle(result.value)
        if ('error' in settled) return settled.error
        settled.value.dispose()
        return undefined
      } finally {
        fn.dispose()
      }
    })
  }

  /**
   * Defines the global `persist` from the stored JSON (undefined: none yet), before the top
   * level runs, and starts saving its changes.
   */
  restorePersist(json: string | undefined): void {
    const init = this.persistInit
    if (!init) return
    let restored = false
    const error = this.run('persist', () => {
      const arg = json === undefined ? this.ctx.undefined : this.ctx.newString(json)
      try {
        const result = this.ctx.callFunction(init, this.ctx.undefined, arg)
        if (result.error) return this.takeError(result.error)
        restored = this.ctx.dump(result.value) === true
        result.value.dispose()
        return undefined
      } finally {
        arg.dispose()
      }
    })
    if (error) this.logError('persist not restored', error)
    else if (!restored) this.log('error', 'the saved persist could not be read; persist starts empty')
    const io = {
      read: () => this.readPersist(),
      save: (saved: string) => this.host.send({ t: 'persist', name: this.name, json: saved }),
      logError: (message: string, error?: ScriptError) =>
        error ? this.logError(message, error) : this.log('error', message),
    }
    // An empty persist that never changes is never written.
    const saved = restored ? (json ?? '{}') : undefined
    this.persistSaver = new PersistSaver(io, saved, this.limits.maxPersistBytes)
  }

  /** Saves `persist` if it changed and returns its JSON, for a new version of the script to start from. */
  persistSnapshot(): string | undefined {
    return this.persistSaver?.flush()
  }

  /** The `persist` JSON saved last (or restored at load). */
  get savedPersist(): string | undefined {
    return this.persistSaver?.lastSaved
  }

  /** A new version took the state over: this one saves no more (not even what its deinit changes). */
  releasePersist(): void {
    this.persistSaver?.release()
  }

  private readPersist(): { json: string } | { error: ScriptError } | undefined {
    const fn = this.persistJson
    if (!fn || this.dead) return undefined
    let json: string | undefined
    const error = this.run('persist', () => {
      const result = this.ctx.callFunction(fn, this.ctx.undefined)
      if (result.error) return this.takeError(result.error)
      json = this.ctx.getString(result.value)
      result.value.dispose()
      return undefined
    })
    if (error) return { error }
    return json === undefined ? undefined : { json }
  }

  /** Queues a message for a subscription; flushDeliveries() hands the queue to the guest in batches. */
  enqueue(delivery: Delivery): void {
    if (!this.alive) return
    // Skipped here, before packing, so a repeated state costs no guest call at all.
    const changes = this.changeFilters.size > 0 ? this.changeFilters.get(delivery.subId) : undefined
    if (changes?.repeats(delivery.topic, delivery.payload)) return
    this.inbox.push(delivery)
  }

  flushDeliveries(): void {
    const inbox = this.inbox
    this.inbox = []
    for (let i = 0; i < inbox.length && this.alive; i += MAX_BATCH) {
      this.deliverBatch(inbox.length <= MAX_BATCH ? inbox : inbox.slice(i, i + MAX_BATCH))
    }
  }

  /**
   * One guest call for many messages: host→guest calls dominate the cost of a callback, so
   * topics and payloads travel packed (see the prelude's dispatcher). The guest re-arms the
   * CPU deadline through host.tick() whenever its clock moves, so the limit still applies
   * per callback; when one is interrupted the batch resumes after it.
   */
  private deliverBatch(chunk: Delivery[]): void {
    const dispatch = this.dispatch
    if (!dispatch) return
    const { live, callbacks, text, meta, clientIds, binary, properties } = packDeliveries(chunk, (subId) =>
      this.subs.get(subId),
    )
    if (live.length === 0) return
    const ctx = this.ctx
    this.batch = live
    try {
      // The handles are released inside the call's own scope: if the VM is disposed when the
      // call returns (a deferred dispose), nothing of ours may still be alive in it.
      let error = this.run('callback', () => {
        const handles: QuickJSHandle[] = []
        const own = (h: QuickJSHandle) => {
          handles.push(h)
          return h
        }
        try {
          const callbackArray = own(ctx.newArray())
          for (let i = 0; i < callbacks.length; i++) ctx.setProp(callbackArray, i, callbacks[i]!)
          return this.callGuest(dispatch, [
            own(ctx.newString(text)),
            own(ctx.newArrayBuffer(meta)),
            callbackArray,
            own(ctx.newString(clientIds)),
            binary ? own(ctx.newArrayBuffer(binary)) : ctx.undefined,
            own(ctx.newString(properties)),
          ])
        } finally {
          for (const h of handles) h.dispose()
        }
      })
      for (let resumes = 0; error && this.alive && resumes <= live.length; resumes++) {
        const failed = live[this.guestPosition() - 1]
        this.logError(`error in ms_subscribe callback for ${failed?.topic ?? '?'}`, error)
        error = this.run('callback', () => this.callGuest(this.resume!, []))
      }
      if (error && !this.alive) this.logError('error in ms_subscribe callback', error)
    } finally {
      this.batch = undefined
    }
  }

  private callGuest(fn: QuickJSHandle, args: QuickJSHandle[]): ScriptError | undefined {
    const result = this.ctx.callFunction(fn, this.ctx.undefined, ...args)
    if (result.error) return this.takeError(result.error)
    result.value.dispose()
    return undefined
  }

  private guestPosition(): number {
    if (!this.position || this.dead) return 0
    this.deadline = performance.now() + this.limits.cpuLimitMs
    const result = this.ctx.callFunction(this.position, this.ctx.undefined)
    if (result.error) {
      result.error.dispose()
      return 0
    }
    const n = this.ctx.getNumber(result.value)
    result.value.dispose()
    return n
  }

  /** Disposes now, or when the call in progress returns. Safe to call more than once. */
  dispose(): void {
    if (this.dead) return
    this.disposeRequested = true
    if (this.depth > 0) return
    if (!this.persistFinal) {
      // The last changes (deinit's too) are saved before the VM goes; the call in here ends
      // in a nested dispose(), which does the rest.
      this.persistFinal = true
      this.persistSaver?.flush()
      if (this.dead) return
    }
    this.persistSaver?.cancel()
    this.dead = true
    for (const t of this.hostTimers.values()) t.cancel()
    this.hostTimers.clear()
    this.scheduler.clear()
    this.subs.disposeAll()
    this.timers.disposeAll()
    this.changeFilters.clear()
    this.fetches.close(true)
    this.schedules.disposeAll()
    this.dispatch?.dispose()
    this.resume?.dispose()
    this.position?.dispose()
    this.drain?.dispose()
    this.persistInit?.dispose()
    this.persistJson?.dispose()
    this.console?.dispose()
    this.namespace?.dispose()
    this.ctx.dispose()
    this.runtime.dispose()
    this.host.send({ t: 'disposed', vmId: this.vmId })
  }

  /** Forgets the VM without touching its WebAssembly memory (after a crash nothing in it can be trusted). */
  abandon(): void {
    if (this.dead) return
    this.dead = true
    this.persistSaver?.cancel()
    for (const t of this.hostTimers.values()) t.cancel()
    this.hostTimers.clear()
    this.fetches.close(false)
    this.scheduler.clear()
    this.host.send({ t: 'disposed', vmId: this.vmId })
  }

  private run(what: string, body: () => ScriptError | undefined): ScriptError | undefined {
    if (this.dead) return undefined
    const outermost = this.depth === 0
    if (outermost) {
      this.deadline = performance.now() + this.limits.cpuLimitMs
      this.host.enterCall(this.vmId)
    }
    this.depth++
    let error: ScriptError | undefined
    let crash: unknown
    try {
      error = body()
      if (outermost) {
        error = this.runPendingJobs() ?? error
        this.drainPublishes()
      }
    } catch (e) {
      crash = e
    } finally {
      this.depth--
    }
    if (!outermost) {
      if (crash !== undefined) throw crash
      return error
    }
    this.host.leaveCall()
    if (crash !== undefined) {
      const message = crash instanceof Error ? `${crash.name}: ${crash.message}` : String(crash)
      const scriptError = {
        where: this.name,
        message: `VM crashed during ${what} (${message}); script stopped`,
      }
      this.abandon()
      this.host.onCrash(this, scriptError)
      return scriptError
    }
    if (what !== 'persist') this.persistSaver?.touch()
    this.subs.flushGraveyard()
    this.timers.flushGraveyard()
    this.schedules.flushGraveyard()
    // Schedules are timers too: they share the count and the limit.
    if (this.timerCount !== this.reportedTimers) {
      this.reportedTimers = this.timerCount
      this.host.send({ t: 'timers', vmId: this.vmId, count: this.reportedTimers })
    }
    if (this.disposeRequested) this.dispose()
    return error
  }

  /** Runs promise jobs queued by the call, under the same deadline. */
  private runPendingJobs(): ScriptError | undefined {
    if (!this.runtime.hasPendingJob()) return undefined
    const result = this.runtime.executePendingJobs(-1)
    if (result.error) return this.takeError(result.error)
    return undefined
  }

  /** Resolves a value that may be a promise (module evaluation with top-level await, async init). */
  private settle(handle: QuickJSHandle): { value: QuickJSHandle } | { error: ScriptError } {
    if (this.runtime.hasPendingJob()) {
      const jobs = this.runtime.executePendingJobs(-1)
      if (jobs.error) {
        handle.dispose()
        return { error: this.takeError(jobs.error) }
      }
    }
    const state = this.ctx.getPromiseState(handle)
    if (state.type === 'fulfilled') {
      if (state.notAPromise) return { value: handle }
      handle.dispose()
      return { value: state.value }
    }
    handle.dispose()
    if (state.type === 'rejected') return { error: this.takeError(state.error) }
    return { error: { where: this.name, message: 'top-level await or async init() did not settle' } }
  }

  /** Reads a thrown value and disposes its handle. */
  private takeError(handle: QuickJSHandle): ScriptError {
    try {
      return locateError(this.name, this.thrownParts(handle), this.isOwnFile)
    } finally {
      handle.dispose()
    }
  }

  private thrownParts(handle: QuickJSHandle): ThrownParts {
    return readThrown(this.ctx, handle, this.limits)
  }

  private log(level: LogLevel, msg: string, error?: ScriptError): void {
    if (!this.logLimiter.take()) {
      const now = Date.now()
      if (now - this.logDropReportAt >= 1000) {
        this.logDropReportAt = now
        this.host.send({
          t: 'log',
          name: this.name,
          level: 'warn',
          msg: 'log rate limit reached; dropping lines',
        })
      }
      return
    }
    this.host.send({ t: 'log', name: this.name, level, msg, error })
  }

  private logError(context: string, error: ScriptError): void {
    if (error.limit !== undefined) this.reportLimit(error.limit, error)
    this.log('error', `${formatScriptError(error)} (${context})`, error)
  }

  /**
   * Tells the host a limit aborted a call, for the script's status. Not subject to the log rate
   * limit (the status must not depend on whether the line made it into the log), but sent at most
   * once a second per kind, since a script near its memory cap can fail on every message.
   */
  private reportLimit(kind: LimitKind, error: ScriptError): void {
    const now = Date.now()
    if (now - this.limitReportAt[kind] < REPORT_INTERVAL_MS) return
    this.limitReportAt[kind] = now
    this.host.send({
      t: 'condition',
      vmId: this.vmId,
      at: now,
      condition: { kind, where: error.where, message: error.message },
    })
  }

  private installApi(): void {
    const ctx = this.ctx
    const hostApi = ctx.newObject()
    const fns: Record<string, (...args: QuickJSHandle[]) => QuickJSHandle | undefined> = {
      log: (level, text) => {
        const lvl = ctx.getString(level!)
        this.log(LOG_LEVELS.find((l) => l === lvl) ?? 'info', ctx.getString(text!))
        return undefined
      },
      subscribe: (filter, callback, changes) =>
        this.subscribe(
          ctx.getString(filter!),
          callback!,
          changes !== undefined && ctx.getNumber(changes) === 1,
        ),
      unsubscribe: (id) => (this.unsubscribe(ctx.getNumber(id!)) ? ctx.true : ctx.false),
      credentials: (kind, value) => {
        const v = ctx.typeof(value!) === 'string' ? ctx.getString(value!) : undefined
        this.host.send(
          ctx.getString(kind!) === 'user' ? { t: 'credentials', user: v } : { t: 'credentials', pass: v },
        )
        return undefined
      },
      port: (port) => {
        // Publishes made before ms_port reach the broker before the listener moves.
        this.drainPublishes()
        const reply = this.host.syncRequest({ t: 'port', port: ctx.getNumber(port!) })
        if (!reply.ok) throw new Error(`ms_port: ${reply.message}`)
        return undefined
      },
      setTimer: (callback, ms, repeat) =>
        ctx.newNumber(this.setTimer(callback!, ctx.getNumber(ms!), ctx.dump(repeat!) === true)),
      publishBatch: (batch) => {
        this.forwardPublishes(batch!)
        return undefined
      },
      get: (topic) => {
        const reply = this.host.syncRequest({ t: 'get', topic: ctx.getString(topic!) })
        if (!reply.ok) throw new Error(`ms_get: ${reply.message}`)
        return lastValueToGuest(ctx, reply.value)
      },
      tick: () => {
        this.deadline = performance.now() + this.limits.cpuLimitMs
        this.host.enterCall(this.vmId)
        return undefined
      },
      callbackError: (error, index) => {
        const failed = this.batch?.[ctx.getNumber(index!)]
        const parts = this.thrownParts(error!)
        this.logError(
          `error in ms_subscribe callback for ${failed?.topic ?? '?'}`,
          locateError(this.name, parts, this.isOwnFile),
        )
        return undefined
      },
      asyncError: (error, what) => {
        this.logError(
          `error in ${ctx.getString(what!)}`,
          locateError(this.name, this.thrownParts(error!), this.isOwnFile),
        )
        return undefined
      },
      clearTimer: (id) => {
        this.clearTimer(ctx.getNumber(id!))
        return undefined
      },
      fetch: (url, method, headers, body, timeoutMs) =>
        this.fetches.start(url!, method!, headers!, body!, timeoutMs!),
      schedule: (spec, callback) => ctx.newNumber(this.schedule(ctx.getString(spec!), callback!)),
      unschedule: (id) => (this.unschedule(ctx.getNumber(id!)) ? ctx.true : ctx.false),
      nextRun: (id) => {
        const at = this.scheduler.next(ctx.getNumber(id!))
        return at === undefined ? undefined : ctx.newNumber(at)
      },
    }
    for (const [key, impl] of Object.entries(fns)) {
      const fn = ctx.newFunction(key, impl)
      ctx.setProp(hostApi, key, fn)
      fn.dispose()
    }
    const maxQueued = ctx.newNumber(Math.min(Math.ceil(this.limits.publishBurst) + 1, 1_000_000))
    ctx.setProp(hostApi, 'maxQueuedPublishes', maxQueued)
    maxQueued.dispose()
    const factory = ctx.unwrapResult(
      ctx.evalCode(PRELUDE_SOURCE, PRELUDE_FILE, { type: 'global', strict: true }),
    )
    const api = ctx.callFunction(factory, ctx.undefined, hostApi)
    factory.dispose()
    hostApi.dispose()
    const apiObject = ctx.unwrapResult(api)
    this.dispatch = ctx.getProp(apiObject, 'dispatch')
    this.resume = ctx.getProp(apiObject, 'resume')
    this.position = ctx.getProp(apiObject, 'position')
    this.drain = ctx.getProp(apiObject, 'drain')
    this.persistInit = ctx.getProp(apiObject, 'persistInit')
    this.persistJson = ctx.getProp(apiObject, 'persistJson')
    this.console = new GuestConsole(
      ctx,
      this.runtime,
      ctx.getProp(apiObject, 'consoleEval'),
      ctx.getProp(apiObject, 'consoleShow'),
      this.name,
      (handle) => this.thrownParts(handle),
      (file) => this.isOwnFile(file),
    )
    apiObject.dispose()
  }

  private subscribe(filter: string, callback: QuickJSHandle, changes: boolean): QuickJSHandle {
    const problem = topicFilterProblem(filter)
    if (problem) throw new TypeError(`ms_subscribe: ${problem}`)
    if (this.subs.size >= this.limits.maxSubscriptions) {
      throw new RangeError(`ms_subscribe: limit of ${this.limits.maxSubscriptions} subscriptions reached`)
    }
    const subId = this.nextSubId++
    this.subs.add(subId, callback.dup())
    if (changes) this.changeFilters.set(subId, new ChangeFilter())
    this.host.send({ t: 'sub', vmId: this.vmId, subId, filter })
    return this.ctx.newNumber(subId)
  }

  private unsubscribe(subId: number): boolean {
    if (!this.subs.remove(subId)) return false
    this.changeFilters.delete(subId)
    this.host.send({ t: 'unsub', vmId: this.vmId, subId })
    return true
  }

  /** Takes the publishes the guest queued and forwards those within the rate limit. */
  private drainPublishes(): void {
    const drain = this.drain
    if (!drain || this.dead) return
    const ctx = this.ctx
    const result = ctx.callFunction(drain, ctx.undefined)
    if (result.error) {
      this.logError('queued publishes lost', this.takeError(result.error))
      return
    }
    try {
      this.forwardPublishes(result.value)
    } finally {
      result.value.dispose()
    }
  }

  /** Forwards one packed chunk of guest publishes (borrowed handle) within the rate limit. */
  private forwardPublishes(chunk: QuickJSHandle): void {
    const { publishes, dropped } = readPublishChunk(this.ctx, chunk)
    let refused = dropped
    for (const p of publishes) {
      if (topicNameProblem(p.topic) !== undefined) continue // the prelude already threw for these
      if (this.publishLimiter.take()) this.host.send({ t: 'pub', vmId: this.vmId, ...p })
      else refused++
    }
    if (refused > 0) this.reportThrottled(refused)
  }

  private reportThrottled(dropped: number): void {
    this.droppedPublishes += dropped
    const now = Date.now()
    if (now - this.throttleReportAt < REPORT_INTERVAL_MS) return
    this.throttleReportAt = now
    const message = `ms_publish above ${this.limits.publishRatePerSecond}/s, dropped ${this.droppedPublishes} publishes`
    this.host.send({ t: 'log', name: this.name, level: 'warn', msg: `${this.name} is throttled: ${message}` })
    // Rides on the once-a-second log report, so the status costs nothing per publish.
    this.host.send({
      t: 'condition',
      vmId: this.vmId,
      at: now,
      condition: { kind: 'throttled', dropped: this.droppedPublishes, message },
    })
    this.droppedPublishes = 0
  }

  /** Hands a finished ms_fetch to the guest inside the usual call bracket. */
  private settleFetch(body: () => string | undefined): void {
    let problem: string | undefined
    const error = this.run('ms_fetch', () => {
      problem = body()
      return undefined
    })
    if (problem) this.log('error', problem)
    if (error) this.logError('error in ms_fetch callback', error)
  }

  private get timerCount(): number {
    return this.timers.size + this.schedules.size
  }

  private setTimer(callback: QuickJSHandle, ms: number, repeat: boolean): number {
    if (this.timerCount >= this.limits.maxTimers) {
      throw new RangeError(`timer limit of ${this.limits.maxTimers} reached`)
    }
    const id = this.nextTimerId++
    this.timers.add(id, callback.dup())
    const fire = () => this.fireTimer(id, repeat)
    // An interval of 0 would spin the worker; a delay past 24.8 days is armed in chunks.
    const delay = Math.max(ms, repeat ? 1 : 0)
    this.hostTimers.set(id, repeat ? this.env.setInterval(fire, delay) : this.env.setTimeout(fire, delay))
    return id
  }

  private clearTimer(id: number): void {
    this.hostTimers.get(id)?.cancel()
    this.hostTimers.delete(id)
    this.timers.remove(id)
  }

  private fireTimer(id: number, repeat: boolean): void {
    const callback = this.timers.get(id)
    if (!callback || !this.alive) return
    const error = this.run('timer', () => {
      if (!repeat) this.clearTimer(id)
      const result = this.ctx.callFunction(callback, this.ctx.undefined)
      if (result.error) return this.takeError(result.error)
      result.value.dispose()
      return undefined
    })
    if (error) this.logError(repeat ? 'error in setInterval callback' : 'error in setTimeout callback', error)
  }

  private schedule(spec: string, callback: QuickJSHandle): number {
    let nextRun: ReturnType<typeof compileSchedule>
    try {
      nextRun = compileSchedule(spec, { location: this.limits.location })
    } catch (e) {
      throw new (e instanceof SyntaxError ? SyntaxError : Error)(
        `ms_schedule: ${e instanceof Error ? e.message : String(e)}`,
      )
    }
    if (this.timerCount >= this.limits.maxTimers) {
      throw new RangeError(`ms_schedule: timer limit of ${this.limits.maxTimers} reached`)
    }
    const id = this.nextTimerId++
    this.schedules.add(id, callback.dup())
    this.scheduler.add(id, nextRun)
    return id
  }

  private unschedule(id: number): boolean {
    this.scheduler.remove(id)
    return this.schedules.remove(id)
  }

  private fireSchedule(id: number, at: number): void {
    const callback = this.schedules.get(id)
    if (!callback || !this.alive) return
    const error = this.run('schedule', () => {
      const time = this.ctx.newNumber(at)
      try {
        return this.callGuest(callback, [time])
      } finally {
        time.dispose()
      }
    })
    if (error) this.logError('error in ms_schedule callback', error)
  }
}
