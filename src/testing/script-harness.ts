/**
 * src/testing: the harness behind `tinymqtt/testing` (src/testing.ts): one automation script
 * run in the broker's own sandbox (ScriptVm) with fakes a test drives. This module is the
 * harness itself; around it the fake broker (fake-broker.ts), clock (fake-clock.ts,
 * fake-date.ts) and network (fake-fetch.ts), the public types (harness-types.ts), duration
 * parsing (duration.ts) and the `node --import` hook of `tinymqtt test` (register.ts).
 *
 * Must not import: src/web, src/listeners, src/bridge, src/cluster, src/store, the entry points
 * in src/. It may import the scripting modules, and the broker's topic rules, trees and last
 * values, to run a VM in-process. Only src/testing.ts imports this folder
 * (.dependency-cruiser.cjs).
 */
import { readFile } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import { topicNameError } from '../broker/topic-rules.ts'
import { formatScriptError, type ScriptError } from '../scripting/error-location.ts'
import { readModuleGraph } from '../scripting/module-graph.ts'
import { resolveOptions, type ScriptLimits } from '../scripting/options.ts'
import type { FromWorker, LogLevel } from '../scripting/protocol.ts'
import { ScriptVm, type VmHost } from '../scripting/script-vm.ts'
import { brokerProperties } from '../scripting/thread-batches.ts'
import type { VmEnvironment } from '../scripting/vm-environment.ts'
import { quickjsWasmModule } from '../scripting/vm-thread.ts'
import { parseDuration } from './duration.ts'
import { FakeBroker } from './fake-broker.ts'
import { FakeClock } from './fake-clock.ts'
import { DateSwitch, fakeDate } from './fake-date.ts'
import { FakeFetches, type FetchCall, type FetchHandler } from './fake-fetch.ts'
import {
  type LastValueInfo,
  type LoadedScript,
  type LoadScriptOptions,
  type LogLine,
  type PublishedMessage,
  type ScriptErrorEntry,
  ScriptLoadError,
  type TestPayload,
  type TestPublishOptions,
} from './harness-types.ts'

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
  private readonly broker: FakeBroker
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
    this.broker = new FakeBroker(
      () => this.clock.now,
      (vmId) => this.vms.get(vmId),
      (text) => this.record('error', text),
    )
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
      syncRequest: (req) => this.broker.answer(req),
      enterCall: () => {
        this.calls++
        this.date.enter()
      },
      leaveCall: () => this.date.leave(),
      onCrash: (vm, error) => {
        this.vms.delete(vm.vmId)
        this.broker.dropSubscriptions(vm.vmId)
        this.record('error', `${formatScriptError(error)} (script stopped)`, error)
      },
    }
    this.savedPersist = options.persist === undefined ? undefined : JSON.stringify(options.persist)
    for (const [topic, payload] of Object.entries(options.retained ?? {})) {
      this.broker.route({ topic, payload: toBuffer(payload), qos: 0, retain: true, clientId: undefined })
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
    return this.broker.filtersOf(this.active?.vmId)
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
    return this.broker.lastValue(topic)
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
    this.broker.route({
      topic,
      payload: toBuffer(payload),
      qos,
      retain: options.retain === true,
      clientId: 'clientId' in options ? options.clientId : DEFAULT_CLIENT_ID,
      properties: options.properties,
    })
    this.broker.pump()
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
      this.broker.pump()
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
      this.broker.pump()
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
      this.broker.dropSubscriptions(vmId)
      vm.dispose()
      this.record('error', `${formatScriptError(failure)} (script not loaded)`, failure)
      this.broker.pump()
      throw new ScriptLoadError(failure)
    }
    old?.releasePersist()
    this.active = vm
    if (old) this.retire(old)
    this.broker.pump()
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
    this.broker.pump()
    for (const other of this.vms.values()) other.dispose()
    this.vms.clear()
  }

  private retire(vm: ScriptVm): void {
    // The new version's subscriptions are in place; the old one's end before its deinit runs.
    this.broker.dropSubscriptions(vm.vmId)
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
      case 'sub':
        this.broker.subscribe(msg.vmId, msg.subId, msg.filter)
        return
      case 'unsub':
        this.broker.unsubscribe(msg.vmId, msg.subId)
        return
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
        this.broker.route({
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
        this.broker.dropSubscriptions(msg.vmId)
        this.timerCounts.delete(msg.vmId)
        return
      default:
        // Credentials, status conditions and batches of the worker protocol mean nothing here.
        return
    }
  }

  private record(level: LogLevel, text: string, error?: ScriptError): void {
    this.logs.push({ level, text })
    if (error) this.errors.push({ ...error, text })
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
