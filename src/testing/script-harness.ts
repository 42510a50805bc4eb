import { readFile } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import { LastValues } from '../broker/last-values.ts'
import { RetainedTree } from '../broker/retained.ts'
import { SubscriptionTree, topicNameError } from '../broker/topics.ts'
import type { Message, MessageProperties, QoS } from '../broker/types.ts'
import { formatScriptError } from '../scripting/error-location.ts'
import { readModuleGraph } from '../scripting/module-graph.ts'
import { resolveOptions, type ScriptingOptions, type ScriptLimits } from '../scripting/options.ts'
import type { FromWorker, LogLevel, ScriptError, SyncReply, SyncRequest } from '../scripting/protocol.ts'
import { propertiesForScript } from '../scripting/script-properties.ts'
import { ScriptVm, type VmHost } from '../scripting/script-vm.ts'
import { brokerProperties } from '../scripting/thread-batches.ts'
import type { VmEnvironment } from '../scripting/vm-environment.ts'
import { quickjsWasmModule } from '../scripting/vm-thread.ts'
import { parseDuration } from './duration.ts'
import { FakeClock } from './fake-clock.ts'
import { DateSwitch, fakeDate } from './fake-date.ts'
import { FakeFetches, type FetchCall, type FetchHandler } from './fake-fetch.ts'

/** The limits a test may set; each defaults to the broker's default (see ScriptingOptions). */
export type ScriptLimitOptions = Omit<
  ScriptingOptions,
  'path' | 'latitude' | 'longitude' | 'reloadDebounceMs' | 'watch' | 'statusHoldMs'
>

export interface LoadScriptOptions {
  /** Where the fake clock starts: an ISO 8601 string, a Date or epoch ms. Default: the real time now. */
  now?: string | number | Date
  /** The broker's location for sun-event schedules, as --latitude/--longitude; both or neither. */
  latitude?: number
  longitude?: number
  /** The saved `persist` the script starts from, as if an earlier run had saved it. */
  persist?: Record<string, unknown>
  /** Retained messages the broker holds before the script loads: topic → payload. */
  retained?: Record<string, string | Uint8Array>
  /** Answers ms_fetch requests from the start; see LoadedScript.onFetch. */
  onFetch?: FetchHandler
  /** The per-script limits, as in the broker's scripting options. */
  limits?: ScriptLimitOptions
}

/** A payload as a test publishes it; objects other than bytes are sent as JSON. */
export type TestPayload = string | Uint8Array | number | boolean | object | null | undefined

export interface TestPublishOptions {
  qos?: QoS
  retain?: boolean
  /** The publishing client's id (`msg.clientId` in the script). Default 'test-client'; undefined: published by the broker itself. */
  clientId?: string | undefined
  properties?: MessageProperties
}

/** A message the script published, in the order it went out. */
export interface PublishedMessage {
  topic: string
  /** The payload as UTF-8 text. */
  payload: string
  bytes: Uint8Array
  qos: QoS
  retain: boolean
  properties?: MessageProperties | undefined
}

export interface LogLine {
  level: LogLevel
  text: string
}

/** An error of the script: thrown by its top level, a callback, a timer, a limit … */
export interface ScriptErrorEntry extends ScriptError {
  /** `file:line:column`, or the file name when the error had no location. */
  where: string
  message: string
  /** The log line it was reported with. */
  text: string
}

/** What ms_get would answer for a topic. */
export interface LastValueInfo {
  payload: string
  bytes: Uint8Array
  qos: QoS
  retain: boolean
  at: number
}

/** The script did not load (its top level or init() failed); `scriptError` says where. */
export class ScriptLoadError extends Error {
  constructor(readonly scriptError: ScriptError) {
    super(`${formatScriptError(scriptError)} (script not loaded)`)
    this.name = 'ScriptLoadError'
  }
}

/** A script under test, as `loadScript` returns it. */
export interface LoadedScript {
  /** The script's file name, as in its error locations. */
  readonly name: string
  /** Absolute path of the file. */
  readonly file: string
  /** Everything the script published, in order (its deinit's publishes too). */
  readonly published: PublishedMessage[]
  /** Returns `published` and empties it. */
  take(): PublishedMessage[]
  /**
   * Publishes as an MQTT client would: the script's matching subscriptions have run when this
   * returns; the promise resolves once ms_fetch answers it caused are handled too.
   */
  publish(topic: string, payload?: TestPayload, options?: TestPublishOptions): Promise<void>
  /** Moves the fake clock forward, firing due timers and schedules in time order. */
  advance(duration: string | number): Promise<void>
  /** Waits until answered ms_fetch requests, and what they cause, have been handled. */
  settle(): Promise<void>
  /** The fake clock's time, ms since the epoch. */
  readonly now: number
  /** `persist` as it would be saved now (parsed JSON); undefined when never saved. */
  readonly persist: Record<string, unknown> | undefined
  /** Every log line: print, console.*, errors, limit and throttle reports. */
  readonly logs: LogLine[]
  /** The script's errors, each with `file:line:column` in `where`. */
  readonly errors: ScriptErrorEntry[]
  /** Every ms_fetch request, answered or pending (answer with `respond`). */
  readonly fetches: FetchCall[]
  /** Answers ms_fetch requests from now on; return undefined to leave one pending. */
  onFetch(handler: FetchHandler | undefined): void
  /** What `ms_get(topic)` would answer now. */
  lastValue(topic: string): LastValueInfo | undefined
  /** Filters the running version is subscribed to. */
  readonly subscriptions: string[]
  /** Live timers and schedules of the running version. */
  readonly timers: number
  /** False after close(), or when the VM crashed. */
  readonly running: boolean
  /** Loads the file again with hot-reload semantics; throws a ScriptLoadError when the new version fails (the old one keeps running). */
  reload(): Promise<void>
  /** Runs deinit() and disposes the VM. */
  close(): Promise<void>
}

interface Subscription {
  vmId: number
  subId: number
  filter: string
}

/** Rounds of deliveries a script may cause to itself in one go (a script that feeds its own subscription). */
const MAX_DELIVERY_ROUNDS = 10_000
/** Timers one advance() may fire: a 1 s interval over a day is 86,400. */
const MAX_FIRES_PER_ADVANCE = 200_000
const MAX_SETTLE_ROUNDS = 1000
const DEFAULT_CLIENT_ID = 'test-client'

/**
 * One script under test: the broker's ScriptVm (the same sandbox, prelude and limits) with a
 * fake broker around it (subscriptions, retained messages, last values), a fake clock and a
 * fake network. Everything runs on the caller's thread, so `publish` has run the script's
 * callback by the time it returns.
 */
export class ScriptHarness implements LoadedScript {
  readonly published: PublishedMessage[] = []
  readonly logs: LogLine[] = []
  readonly errors: ScriptErrorEntry[] = []
  readonly file: string
  readonly name: string
  private readonly dir: string
  private readonly limits: ScriptLimits
  private readonly clock: FakeClock
  private readonly date: DateSwitch
  private readonly fakeFetches: FakeFetches
  private readonly env: VmEnvironment
  private readonly host: VmHost
  private readonly vms = new Map<number, ScriptVm>()
  private readonly subs = new Map<string, Subscription>()
  private readonly tree = new SubscriptionTree<Subscription, true>()
  private readonly retained = new RetainedTree()
  private readonly lastValues = new LastValues(10_000)
  private readonly waiting = new Set<ScriptVm>()
  private readonly timerCounts = new Map<number, number>()
  private active: ScriptVm | undefined
  private savedPersist: string | undefined
  private nextVmId = 1
  private calls = 0
  private closed = false

  constructor(file: string, options: LoadScriptOptions = {}) {
    this.file = resolve(file)
    this.name = basename(this.file)
    this.dir = dirname(this.file)
    this.limits = resolveOptions({
      ...options.limits,
      path: this.file,
      latitude: options.latitude,
      longitude: options.longitude,
    })
    this.clock = new FakeClock(startTime(options.now))
    this.date = new DateSwitch(fakeDate(() => this.clock.now))
    this.fakeFetches = new FakeFetches(this.clock, () => this.settle())
    this.fakeFetches.handler = options.onFetch
    this.env = {
      setTimeout: (fn, ms) => this.clock.setTimeout(fn, ms),
      setInterval: (fn, ms) => this.clock.setInterval(fn, ms),
      scheduleClock: this.clock.scheduleClock,
      fetch: this.fakeFetches.perform,
    }
    this.host = {
      send: (msg) => this.onVmMessage(msg),
      syncRequest: (req) => this.onSyncRequest(req),
      enterCall: () => {
        this.calls++
        this.date.enter()
      },
      leaveCall: () => this.date.leave(),
      onCrash: (vm, error) => {
        this.vms.delete(vm.vmId)
        this.dropSubscriptions(vm.vmId)
        this.record('error', `${formatScriptError(error)} (script stopped)`, error)
      },
    }
    this.savedPersist = options.persist === undefined ? undefined : JSON.stringify(options.persist)
    for (const [topic, payload] of Object.entries(options.retained ?? {})) {
      this.route({ topic, payload: toBuffer(payload), qos: 0, retain: true, clientId: undefined })
    }
  }

  /** The fake clock's time, ms since the epoch. */
  get now(): number {
    return this.clock.now
  }

  get fetches(): FetchCall[] {
    return this.fakeFetches.calls
  }

  /** The script's `persist` as it would be saved now (parsed); undefined before anything was saved. */
  get persist(): Record<string, unknown> | undefined {
    const vm = this.active
    const json = vm?.alive ? vm.persistSnapshot() : this.savedPersist
    return json === undefined ? undefined : (JSON.parse(json) as Record<string, unknown>)
  }

  /** The filters the running script is subscribed to, in the order it subscribed. */
  get subscriptions(): string[] {
    const vmId = this.active?.vmId
    return [...this.subs.values()].filter((s) => s.vmId === vmId).map((s) => s.filter)
  }

  /** Live timers and schedules of the running script. */
  get timers(): number {
    return this.active ? (this.timerCounts.get(this.active.vmId) ?? 0) : 0
  }

  /** Whether the running version is alive (not closed, not stopped by a crash). */
  get running(): boolean {
    return this.active?.alive === true
  }

  take(): PublishedMessage[] {
    return this.published.splice(0)
  }

  onFetch(handler: FetchHandler | undefined): void {
    this.fakeFetches.handler = handler
  }

  /** What `ms_get(topic)` would answer. */
  lastValue(topic: string): LastValueInfo | undefined {
    const v = this.lastValues.get(topic)
    if (!v) return undefined
    return {
      payload: v.payload.toString('utf8'),
      bytes: new Uint8Array(v.payload),
      qos: v.qos,
      retain: v.retain,
      at: v.at,
    }
  }

  /**
   * Publishes as an MQTT client would: the script's matching subscriptions have run by the time
   * this returns. The promise resolves once answers to ms_fetch requests it caused are handled.
   */
  publish(topic: string, payload?: TestPayload, options: TestPublishOptions = {}): Promise<void> {
    const problem = topicNameError(topic)
    if (problem) throw new TypeError(`publish: ${problem}: ${JSON.stringify(topic)}`)
    const qos = options.qos ?? 0
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new RangeError('publish: qos must be 0, 1 or 2')
    this.route({
      topic,
      payload: toBuffer(payload),
      qos,
      retain: options.retain === true,
      clientId: 'clientId' in options ? options.clientId : DEFAULT_CLIENT_ID,
      properties: options.properties,
    })
    this.pump()
    return this.settle()
  }

  /**
   * Moves the fake clock forward by `duration` ('10m', '1h30m', '2s', '500ms' or ms), firing
   * every timer and schedule that falls due on the way in time order, the clock set to each
   * one's due time as it fires; answered ms_fetch requests and promise jobs run in between.
   */
  async advance(duration: string | number): Promise<void> {
    const until = this.clock.now + parseDuration(duration)
    await this.settle()
    for (let fired = 0; this.clock.fireNext(until); fired++) {
      if (fired >= MAX_FIRES_PER_ADVANCE) {
        throw new Error(
          `advance(${JSON.stringify(duration)}): more than ${MAX_FIRES_PER_ADVANCE} timers fell due; advance in smaller steps`,
        )
      }
      this.pump()
      await this.settle()
    }
    this.clock.now = Math.max(this.clock.now, until)
    await this.settle()
  }

  /** Waits until answered ms_fetch requests (and what they cause) have been handled. */
  async settle(): Promise<void> {
    for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
      const calls = this.calls
      if (this.fakeFetches.answering.size > 0) await Promise.allSettled([...this.fakeFetches.answering])
      await new Promise<void>((done) => setImmediate(done))
      this.pump()
      if (calls === this.calls && this.fakeFetches.answering.size === 0) return
    }
  }

  /**
   * Loads the file (again) as the broker's hot reload does: a new VM starts from the running
   * version's `persist`; only when its top level and init() succeed is the old version's
   * deinit() run and the old VM disposed. On failure the old version keeps running and this
   * throws a ScriptLoadError (the error is in `errors` too).
   */
  async load(): Promise<void> {
    if (this.closed) throw new Error(`${this.name} is closed`)
    const code = await readFile(this.file, 'utf8')
    const graph = await readModuleGraph(this.dir, this.name, code)
    const vmId = this.nextVmId++
    const vm = await ScriptVm.create(
      this.name,
      vmId,
      this.limits,
      await quickjsWasmModule(),
      this.host,
      this.env,
    )
    this.vms.set(vmId, vm)
    const old = this.active
    vm.restorePersist(old?.alive ? old.persistSnapshot() : this.savedPersist)
    const error = vm.evaluate(code, graph.sources) ?? vm.callExport('init')
    if (error || !vm.alive) {
      const failure = error ?? { where: this.name, message: 'VM stopped while loading' }
      this.vms.delete(vmId)
      this.dropSubscriptions(vmId)
      vm.dispose()
      this.record('error', `${formatScriptError(failure)} (script not loaded)`, failure)
      this.pump()
      throw new ScriptLoadError(failure)
    }
    old?.releasePersist()
    this.active = vm
    if (old) this.retire(old)
    this.pump()
    await this.settle()
  }

  reload(): Promise<void> {
    return this.load()
  }

  /** Runs the script's deinit() and disposes its VM; what deinit publishes is in `published`. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const vm = this.active
    if (vm) {
      this.savedPersist = vm.alive ? vm.persistSnapshot() : this.savedPersist
      this.retire(vm)
    }
    this.pump()
    for (const other of this.vms.values()) other.dispose()
    this.vms.clear()
  }

  private retire(vm: ScriptVm): void {
    // The new version's subscriptions are in place; the old one's end before its deinit runs.
    this.dropSubscriptions(vm.vmId)
    const error = vm.callExport('deinit')
    if (error) this.record('error', `${formatScriptError(error)} (in deinit())`, error)
    this.vms.delete(vm.vmId)
    vm.dispose()
  }

  private onVmMessage(msg: FromWorker): void {
    switch (msg.t) {
      case 'log':
        this.record(msg.level, msg.msg, msg.error)
        return
      case 'sub': {
        const sub: Subscription = { vmId: msg.vmId, subId: msg.subId, filter: msg.filter }
        this.subs.set(`${msg.vmId}/${msg.subId}`, sub)
        this.tree.add(msg.filter, sub, true)
        // Matching retained messages arrive right away, retain set, as from the broker.
        const vm = this.vms.get(msg.vmId)
        if (!vm) return
        for (const m of this.retained.match(msg.filter)) this.enqueue(vm, sub, m, true)
        return
      }
      case 'unsub': {
        const key = `${msg.vmId}/${msg.subId}`
        const sub = this.subs.get(key)
        if (!sub) return
        this.subs.delete(key)
        this.tree.remove(sub.filter, sub)
        return
      }
      case 'pub': {
        const payload = Buffer.from(msg.payload)
        const out: PublishedMessage = {
          topic: msg.topic,
          payload: payload.toString('utf8'),
          bytes: new Uint8Array(payload),
          qos: msg.qos,
          retain: msg.retain,
        }
        const properties = brokerProperties(msg.properties)
        if (properties) out.properties = properties
        this.published.push(out)
        this.route({
          topic: msg.topic,
          payload,
          qos: msg.qos,
          retain: msg.retain,
          clientId: undefined,
          properties,
        })
        return
      }
      case 'persist':
        this.savedPersist = msg.json
        return
      case 'timers':
        this.timerCounts.set(msg.vmId, msg.count)
        return
      case 'disposed':
        this.dropSubscriptions(msg.vmId)
        this.timerCounts.delete(msg.vmId)
        return
      default:
        // Credentials, status conditions and batches of the worker protocol mean nothing here.
        return
    }
  }

  private onSyncRequest(req: SyncRequest): SyncReply {
    // ms_port names a listener the harness does not have: accepted, like the port already bound.
    if (req.t === 'port') return { ok: true }
    const value = this.lastValues.get(req.topic)
    if (!value) return { ok: true }
    return {
      ok: true,
      value: { payload: new Uint8Array(value.payload), qos: value.qos, retain: value.retain, at: value.at },
    }
  }

  private record(level: LogLevel, text: string, error?: ScriptError): void {
    this.logs.push({ level, text })
    if (error) this.errors.push({ ...error, text })
  }

  private route(message: Message): void {
    this.lastValues.record(message, this.clock.now)
    if (message.retain) this.retained.set(message)
    this.tree.match(message.topic, (sub) => {
      const vm = this.vms.get(sub.vmId)
      // Live delivery clears the retain flag, as the broker's does for its handlers.
      if (vm) this.enqueue(vm, sub, message, false)
    })
  }

  private enqueue(vm: ScriptVm, sub: Subscription, message: Message, retain: boolean): void {
    vm.enqueue({
      subId: sub.subId,
      topic: message.topic,
      payload: message.payload,
      qos: message.qos,
      retain,
      clientId: message.clientId,
      properties: propertiesForScript(message.properties, message.expiresAt, this.clock.now),
    })
    this.waiting.add(vm)
  }

  /** Hands queued messages to the scripts, including what their callbacks publish to themselves. */
  private pump(): void {
    for (let round = 0; this.waiting.size > 0; round++) {
      const vms = [...this.waiting]
      this.waiting.clear()
      if (round >= MAX_DELIVERY_ROUNDS) {
        this.record(
          'error',
          `harness: the script kept publishing to its own subscriptions for ${MAX_DELIVERY_ROUNDS} rounds; the rest is dropped`,
        )
        return
      }
      for (const vm of vms) vm.flushDeliveries()
    }
  }

  private dropSubscriptions(vmId: number): void {
    for (const [key, sub] of this.subs) {
      if (sub.vmId !== vmId) continue
      this.subs.delete(key)
      this.tree.remove(sub.filter, sub)
    }
  }
}

function startTime(now: string | number | Date | undefined): number {
  if (now === undefined) return Date.now()
  const t = now instanceof Date ? now.getTime() : typeof now === 'number' ? now : Date.parse(now)
  if (!Number.isFinite(t)) throw new RangeError(`now: not a time: ${String(now)}`)
  return t
}

function toBuffer(payload: TestPayload): Buffer {
  if (payload === undefined || payload === null) return Buffer.alloc(0)
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8')
  if (payload instanceof Uint8Array) return Buffer.from(payload)
  if (typeof payload === 'number' || typeof payload === 'boolean') return Buffer.from(String(payload))
  return Buffer.from(JSON.stringify(payload), 'utf8')
}
