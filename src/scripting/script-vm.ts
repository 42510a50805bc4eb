import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from 'quickjs-emscripten'
import { locateError, type ScriptError, type ThrownParts } from './error-location.ts'
import { GuestFetches } from './guest-fetch.ts'
import type { ScriptLimits } from './options.ts'
import type { FromWorker, SyncReply, SyncRequest } from './protocol.ts'
import { type ConsoleReply, GuestConsole } from './script-console.ts'
import type { Delivery } from './thread-batches.ts'
import { readThrown } from './thrown-value.ts'
import type { VmCalls } from './vm-calls.ts'
import { VmConsole } from './vm-console.ts'
import { DeliveryDispatch } from './vm-dispatch.ts'
import { realEnvironment, type VmEnvironment } from './vm-environment.ts'
import { type HostCalls, installPrelude } from './vm-host-functions.ts'
import { CpuDeadline, createLimitedRuntime, type MemoryCeiling } from './vm-limits.ts'
import { VmModule } from './vm-module.ts'
import { VmPersist } from './vm-persist.ts'
import { VmPublishes } from './vm-publishes.ts'
import { VmReports } from './vm-reports.ts'
import { VmSubscriptions } from './vm-subscriptions.ts'
import { VmTimers } from './vm-timers.ts'
import type { WasmMemory, WasmModule } from './wasm.ts'

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

/** The parts of a VM that exist once the prelude has run. */
interface VmParts {
  dispatch: DeliveryDispatch
  publishes: VmPublishes
  persist: VmPersist
  console: VmConsole
}

/**
 * One script version: its own WebAssembly instance with capped memory (vm-limits.ts), one
 * runtime and one context. Every call into the guest goes through `run()`, which arms the CPU
 * deadline, tells the watchdog, and defers disposal of handles (or of the whole VM) until the
 * outermost call has returned. Its parts: host functions (vm-host-functions.ts), message
 * dispatch, publishes, timers, persist and reports, each in its own vm-*.ts module.
 */
export class ScriptVm {
  private readonly subs: VmSubscriptions
  private readonly timers: VmTimers
  private readonly reports: VmReports
  private readonly deadline: CpuDeadline
  private reportedTimers = 0
  private depth = 0
  private disposeRequested = false
  private dead = false
  private inbox: Delivery[] = []
  private readonly module: VmModule
  private readonly fetches: GuestFetches
  private readonly calls: VmCalls
  private parts: VmParts | undefined

  private constructor(
    readonly name: string,
    readonly vmId: number,
    private readonly limits: ScriptLimits,
    private readonly host: VmHost,
    private readonly runtime: QuickJSRuntime,
    private readonly ctx: QuickJSContext,
    private readonly memory: WasmMemory,
    private readonly ceiling: MemoryCeiling,
    env: VmEnvironment,
  ) {
    const vm = this
    this.calls = {
      ctx,
      get alive() {
        return vm.alive
      },
      get dead() {
        return vm.dead
      },
      get inCall() {
        return vm.depth > 0
      },
      run: (what, body) => this.run(what, body),
      callGuest: (fn, args) => this.callGuest(fn, args),
      takeError: (handle) => this.takeError(handle),
    }
    this.deadline = new CpuDeadline(runtime, limits)
    this.module = new VmModule(this.calls, name, runtime, ctx)
    this.reports = new VmReports(name, vmId, limits, (msg) => host.send(msg))
    this.subs = new VmSubscriptions(
      vmId,
      limits,
      () => this.depth > 0,
      (msg) => host.send(msg),
    )
    this.timers = new VmTimers(this.calls, limits, env, this.reports)
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
    const { runtime, ctx, memory, ceiling } = await createLimitedRuntime(limits, wasmModule)
    const vm = new ScriptVm(name, vmId, limits, host, runtime, ctx, memory, ceiling, env)
    // The prelude is ours; it runs before any deadline applies.
    vm.deadline.lift()
    vm.installApi()
    vm.deadline.clear()
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
    return this.module.evaluate(code, modules)
  }

  /**
   * Evaluates a dashboard console expression in the script's module scope, under the same limits
   * as its callbacks; its publishes go out like the script's own.
   */
  consoleEval(expression: string): ConsoleReply | Promise<ConsoleReply> {
    return this.parts?.console.evaluate(expression) ?? { ok: false, error: `${this.name} is not running` }
  }

  /** Calls an optional export (`init` / `deinit`); missing exports are fine. */
  callExport(exportName: 'init' | 'deinit'): ScriptError | undefined {
    return this.module.callExport(exportName)
  }

  /**
   * Defines the global `persist` from the stored JSON (undefined: none yet), before the top
   * level runs, and starts saving its changes.
   */
  restorePersist(json: string | undefined): void {
    this.parts?.persist.restore(json)
  }

  /** Saves `persist` if it changed and returns its JSON, for a new version of the script to start from. */
  persistSnapshot(): string | undefined {
    return this.parts?.persist.snapshot()
  }

  /** The `persist` JSON saved last (or restored at load). */
  get savedPersist(): string | undefined {
    return this.parts?.persist.saved
  }

  /** A new version took the state over: this one saves no more (not even what its deinit changes). */
  releasePersist(): void {
    this.parts?.persist.release()
  }

  /** Queues a message for a subscription; flushDeliveries() hands the queue to the guest in batches. */
  enqueue(delivery: Delivery): void {
    if (this.alive && this.subs.wants(delivery)) this.inbox.push(delivery)
  }

  flushDeliveries(): void {
    const inbox = this.inbox
    this.inbox = []
    this.parts?.dispatch.deliver(inbox)
  }

  /** Disposes now, or when the call in progress returns. Safe to call more than once. */
  dispose(): void {
    if (this.dead) return
    this.disposeRequested = true
    if (this.depth > 0) return
    // The last changes (deinit's too) are saved before the VM goes; the call in here ends in a
    // nested dispose(), which does the rest.
    if (this.parts?.persist.saveFinal() && this.dead) return
    this.dead = true
    this.timers.close(true)
    this.subs.disposeAll()
    this.fetches.close(true)
    if (this.parts) {
      const { dispatch, publishes, persist, console } = this.parts
      dispatch.dispose()
      publishes.dispose()
      persist.close(true)
      console.dispose()
    }
    this.module.dispose()
    this.ctx.dispose()
    this.runtime.dispose()
    this.host.send({ t: 'disposed', vmId: this.vmId })
  }

  /** Forgets the VM without touching its WebAssembly memory (after a crash nothing in it can be trusted). */
  abandon(): void {
    if (this.dead) return
    this.dead = true
    this.parts?.persist.close(false)
    this.timers.close(false)
    this.fetches.close(false)
    this.host.send({ t: 'disposed', vmId: this.vmId })
  }

  private run(what: string, body: () => ScriptError | undefined): ScriptError | undefined {
    if (this.dead) return undefined
    const outermost = this.depth === 0
    if (outermost) {
      this.deadline.arm()
      this.host.enterCall(this.vmId)
    }
    this.depth++
    let error: ScriptError | undefined
    let crash: unknown
    try {
      error = body()
      if (outermost) {
        error = this.runPendingJobs() ?? error
        this.parts?.publishes.drain()
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
      const scriptError = this.crashError(what, crash)
      this.abandon()
      this.host.onCrash(this, scriptError)
      return scriptError
    }
    if (what !== 'persist') this.parts?.persist.touch()
    this.subs.callbacks.flushGraveyard()
    this.timers.flushGraveyard()
    // Schedules are timers too: they share the count and the limit.
    if (this.timers.count !== this.reportedTimers) {
      this.reportedTimers = this.timers.count
      this.host.send({ t: 'timers', vmId: this.vmId, count: this.reportedTimers })
    }
    if (this.disposeRequested) this.dispose()
    return error
  }

  /**
   * A fault with the heap full is the memory limit (see MemoryCeiling): the host loads the script
   * again. Any other fault stops it.
   */
  private crashError(what: string, crash: unknown): ScriptError {
    const fault = crash instanceof Error ? `${crash.name}: ${crash.message}` : String(crash)
    if (!this.ceiling.reached) {
      return { where: this.name, message: `VM crashed during ${what} (${fault}); script stopped` }
    }
    return {
      where: this.name,
      message: `InternalError: out of memory: exceeded the memory limit of ${this.limits.memoryLimitBytes} bytes during ${what}; the VM could not recover (${fault}) and was abandoned`,
      limit: 'memory',
    }
  }

  /** Runs promise jobs queued by the call, under the same deadline. */
  private runPendingJobs(): ScriptError | undefined {
    if (!this.runtime.hasPendingJob()) return undefined
    const result = this.runtime.executePendingJobs(-1)
    if (result.error) return this.takeError(result.error)
    return undefined
  }

  private callGuest(fn: QuickJSHandle, args: QuickJSHandle[]): ScriptError | undefined {
    const result = this.ctx.callFunction(fn, this.ctx.undefined, ...args)
    if (result.error) return this.takeError(result.error)
    result.value.dispose()
    return undefined
  }

  /** Reads a thrown value and disposes its handle. */
  private takeError(handle: QuickJSHandle): ScriptError {
    try {
      return locateError(this.name, this.thrownParts(handle), this.module.isOwnFile)
    } finally {
      handle.dispose()
    }
  }

  private thrownParts(handle: QuickJSHandle): ThrownParts {
    return readThrown(this.ctx, handle, this.limits, this.ceiling.reached)
  }

  /** A thrown value (borrowed handle) logged as an error of the script. */
  private logThrown(context: string, error: QuickJSHandle): void {
    this.reports.logError(context, locateError(this.name, this.thrownParts(error), this.module.isOwnFile))
  }

  private installApi(): void {
    const ctx = this.ctx
    const host = this.host
    const calls: HostCalls = {
      log: (level, text) => this.reports.log(level, text),
      subscribe: (filter, callback, changes) => this.subs.subscribe(filter, callback, changes),
      unsubscribe: (id) => this.subs.unsubscribe(id),
      credentials: (kind, value) =>
        host.send(kind === 'user' ? { t: 'credentials', user: value } : { t: 'credentials', pass: value }),
      port: (port) => {
        // Publishes made before ms_port reach the broker before the listener moves.
        this.parts?.publishes.drain()
        const reply = host.syncRequest({ t: 'port', port })
        if (!reply.ok) throw new Error(`ms_port: ${reply.message}`)
      },
      setTimer: (callback, ms, repeat) => this.timers.setTimer(callback, ms, repeat),
      clearTimer: (id) => this.timers.clearTimer(id),
      publishBatch: (chunk) => this.parts?.publishes.forward(chunk),
      get: (topic) => {
        const reply = host.syncRequest({ t: 'get', topic })
        if (!reply.ok) throw new Error(`ms_get: ${reply.message}`)
        return reply.value
      },
      tick: () => {
        this.deadline.arm()
        host.enterCall(this.vmId)
      },
      callbackError: (error, index) =>
        this.logThrown(
          `error in ms_subscribe callback for ${this.parts?.dispatch.topicAt(index) ?? '?'}`,
          error,
        ),
      asyncError: (error, what) => this.logThrown(`error in ${what}`, error),
      fetch: (url, method, headers, body, timeoutMs) =>
        this.fetches.start(url, method, headers, body, timeoutMs),
      schedule: (spec, callback) => this.timers.schedule(spec, callback),
      unschedule: (id) => this.timers.unschedule(id),
      nextRun: (id) => this.timers.nextRun(id),
      maxQueuedPublishes: Math.min(Math.ceil(this.limits.publishBurst) + 1, 1_000_000),
    }
    const api = installPrelude(ctx, calls)
    const send = (msg: FromWorker) => host.send(msg)
    this.parts = {
      dispatch: new DeliveryDispatch(this.calls, api, this.subs.callbacks, this.deadline, this.reports),
      publishes: new VmPublishes(this.calls, this.vmId, this.limits, api.drain, send, this.reports),
      persist: new VmPersist(
        this.calls,
        this.name,
        this.limits,
        api.persistInit,
        api.persistJson,
        send,
        this.reports,
      ),
      console: new VmConsole(
        this.calls,
        this.name,
        new GuestConsole(
          ctx,
          this.runtime,
          api.consoleEval,
          api.consoleShow,
          this.name,
          (handle) => this.thrownParts(handle),
          (file) => this.module.isOwnFile(file),
        ),
      ),
    }
  }

  /** Hands a finished ms_fetch to the guest inside the usual call bracket. */
  private settleFetch(body: () => string | undefined): void {
    let problem: string | undefined
    const error = this.run('ms_fetch', () => {
      problem = body()
      return undefined
    })
    if (problem) this.reports.log('error', problem)
    if (error) this.reports.logError('error in ms_fetch callback', error)
  }
}
