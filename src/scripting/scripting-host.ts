import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { present } from '../util/invariant.ts'
import { BrokerMirror } from './broker-mirror.ts'
import { ConsoleRequests, MAX_EXPRESSION } from './console-requests.ts'
import { formatScriptError, type ScriptError } from './error-location.ts'
import type { ScriptBroker, ScriptingHost } from './host-interfaces.ts'
import { loadHash, readModuleGraph } from './module-graph.ts'
import type { ResolvedScriptingOptions } from './options.ts'
import { storePersist } from './persist-saver.ts'
import type { FromWorker, LogLevel } from './protocol.ts'
import { ActivityByVm, noActivity } from './script-activity.ts'
import type { ConsoleReply } from './script-console.ts'
import { belongsTo, listScripts, resolveScriptSource, type ScriptSource } from './script-files.ts'
import {
  newScriptRecord,
  noteCondition,
  type PendingLoad,
  type ScriptRecord,
  type ScriptStatus,
  statusesOf,
  type VmConditions,
} from './script-status.ts'
import { ScriptWatcher } from './script-watcher.ts'
import { brokerProperties, unpackPublishes } from './thread-batches.ts'
import { VmThread } from './vm-thread.ts'
import { MemoryCrashes, markWorkerLost, RestartBudget } from './worker-restarts.ts'

/**
 * Main-thread side of scripting: keeps the record of each script (script-status.ts) and brings
 * it in line with its file, one load after another per file; handles the worker's messages,
 * mirroring the VMs' subscriptions and publishes onto the broker (broker-mirror.ts); and
 * restarts the VM worker (without the offending script) when the watchdog kills it
 * (worker-restarts.ts).
 */
export class ScriptRunner implements ScriptingHost {
  private readonly records = new Map<string, ScriptRecord>()
  private readonly mirror: BrokerMirror
  private readonly timers = new Map<number, number>()
  private readonly conditions = new Map<number, VmConditions>()
  private readonly pending = new Map<number, PendingLoad>()
  private readonly log: Logger
  private source: ScriptSource | undefined
  private watcher: ScriptWatcher | undefined
  private thread: VmThread | undefined
  private threadReady: Promise<void> = Promise.resolve()
  private nextVmId = 1
  private readonly restarts = new RestartBudget()
  private readonly memoryCrashes = new MemoryCrashes()
  private closing: Promise<void> | undefined
  /** Each script's saved `persist` (JSON) by name, sent with every load; kept for deleted scripts too. */
  private states = new Map<string, string>()
  private readonly evaluations = new ConsoleRequests()
  private readonly activity = new ActivityByVm()

  constructor(
    private readonly broker: ScriptBroker,
    private readonly options: ResolvedScriptingOptions,
  ) {
    this.log = broker.logger.child({ component: 'scripting' })
    this.mirror = new BrokerMirror(broker, this.log)
  }

  async start(): Promise<void> {
    const source = await resolveScriptSource(this.options.path)
    this.source = source
    this.states = (await this.broker.loadScriptStates?.()) ?? this.states
    this.broker.useLastValues?.()
    this.thread = await this.startThread()
    if (this.options.watch) {
      this.watcher = await ScriptWatcher.start(source, this.options.reloadDebounceMs, (name) =>
        this.fileChanged(name),
      )
    }
    const files = await listScripts(source)
    await Promise.all(files.map((f) => this.sync(f.name)))
  }

  scripts(): ScriptStatus[] {
    const counts = (vmId: number) => ({
      subscriptions: this.mirror.subscriptionCount(vmId),
      timers: this.timers.get(vmId) ?? 0,
    })
    return statusesOf(this.records.values(), this.conditions, counts, this.options.statusHoldMs, Date.now())
  }

  async reload(name: string): Promise<boolean> {
    const record = this.records.get(name)
    if (!record || this.closing) return false
    // Forget the content hash, so the sync reloads an unchanged file.
    record.chain = record.chain.then(() => {
      record.hash = undefined
    })
    await this.sync(name)
    return true
  }

  async refresh(name: string): Promise<ScriptStatus[]> {
    if (this.closing || !this.source) return []
    const concerned = new Set<string>()
    if (belongsTo(this.source, name)) concerned.add(name)
    for (const record of this.records.values()) if (record.imports?.has(name)) concerned.add(record.name)
    await Promise.all([...concerned].map((n) => this.sync(n)))
    return this.scripts().filter((s) => concerned.has(s.name))
  }

  scriptSource(): ScriptSource | undefined {
    return this.source
  }

  /** start() sets the source before it syncs or watches anything, so every sync runs after it. */
  private startedSource(): ScriptSource {
    return present(this.source, 'the script source (start() has not run)')
  }

  async evaluate(name: string, expression: string): Promise<ConsoleReply> {
    if (expression.length > MAX_EXPRESSION) {
      return { ok: false, error: `the expression is longer than ${MAX_EXPRESSION} characters` }
    }
    await this.threadReady
    const record = this.records.get(name)
    if (!record) return { ok: false, error: `no script named ${name}` }
    // A script being loaded again after a crash answers once it is back.
    if (record.activeVmId === undefined && record.status === 'loading') await record.chain
    const thread = this.thread
    if (this.closing || !thread || record.activeVmId === undefined) {
      return { ok: false, error: `${name} is not running (${record.status})` }
    }
    return this.evaluations.start((id) => thread.send({ t: 'eval', name, id, expression }))
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.watcher?.close()
      await this.threadReady
      await this.thread?.close()
      for (const vmId of this.mirror.vmIds()) this.dropVm(vmId)
      for (const p of this.pending.values()) p.done()
      this.pending.clear()
      this.evaluations.failAll('the scripting host closed')
    })()
    return this.closing
  }

  /** A script's own file changed, or a module that scripts import: each of them is synced. */
  private fileChanged(name: string): void {
    if (belongsTo(this.startedSource(), name)) void this.sync(name)
    for (const record of this.records.values()) {
      if (record.name !== name && record.imports?.has(name)) void this.sync(record.name)
    }
  }

  /** Brings one script in line with its file: load, reload, or unload. */
  private sync(name: string): Promise<void> {
    const source = this.startedSource()
    let record = this.records.get(name)
    if (!record) {
      record = newScriptRecord(name, join(source.dir, name))
      this.records.set(name, record)
    }
    const r = record
    r.chain = r.chain
      .then(() => this.syncNow(r))
      .catch((e: unknown) => this.log.error({ err: e, script: name }))
    return r.chain
  }

  private async syncNow(record: ScriptRecord): Promise<void> {
    if (this.closing) return
    let code: string
    try {
      code = await readFile(record.file, 'utf8')
    } catch {
      await this.unload(record)
      return
    }
    record.fileRead = true
    const graph = await readModuleGraph(this.startedSource().dir, record.name, code)
    record.imports = graph.names
    this.watcher?.watchModules(graph.names)
    const hash = loadHash(code, graph.sources)
    if (hash === record.hash) return
    record.hash = hash
    await this.load(record, code, graph.sources)
  }

  private async load(record: ScriptRecord, code: string, modules: Map<string, string>): Promise<void> {
    await this.threadReady
    const thread = this.thread
    if (this.closing) return
    if (!thread) {
      record.status = 'stopped'
      record.error = 'the scripting worker is stopped'
      return
    }
    const vmId = this.nextVmId++
    if (record.activeVmId === undefined) record.status = 'loading'
    await new Promise<void>((done) => {
      this.pending.set(vmId, { record, code, modules, done })
      this.activity.attach(vmId, record.activity)
      thread.send({
        t: 'load',
        name: record.name,
        vmId,
        code,
        modules,
        persist: this.states.get(record.name),
      })
    })
  }

  private async unload(record: ScriptRecord): Promise<void> {
    this.records.delete(record.name)
    this.memoryCrashes.forget(record.name)
    if (record.activeVmId === undefined) return
    await this.threadReady
    this.thread?.send({ t: 'unload', name: record.name })
    this.log.info({ script: record.name, file: record.file }, 'script unloaded')
  }

  private async startThread(): Promise<VmThread> {
    return VmThread.start(this.options, {
      onMessages: (batch) => {
        for (const msg of batch) this.onWorkerMessage(msg)
      },
      onSyncRequest: (req) => this.mirror.answer(req),
      onExit: ({ offenderVmId, reason }) => {
        this.threadReady = this.restart(offenderVmId, reason)
      },
    })
  }

  private onWorkerMessage(msg: FromWorker): void {
    switch (msg.t) {
      case 'persist':
        this.states.set(msg.name, msg.json)
        storePersist(this.broker, this.log, msg.name, msg.json)
        return
      case 'sub':
        this.subscribe(msg.vmId, msg.subId, msg.filter)
        return
      case 'unsub':
        this.mirror.unsubscribe(msg.vmId, msg.subId)
        return
      case 'pub':
        this.activity.countPublish(msg.vmId)
        this.mirror.publish(msg.topic, msg.payload, msg.qos, msg.retain, brokerProperties(msg.properties))
        return
      case 'pubs':
        this.activity.countPublishes(msg.meta)
        unpackPublishes(msg, this.mirror.publish)
        return
      case 'timers':
        this.timers.set(msg.vmId, msg.count)
        return
      case 'credentials':
        this.mirror.setCredentials(msg)
        return
      case 'log':
        this.scriptLog(msg.name, msg.level, msg.msg, msg.error)
        return
      case 'condition':
        noteCondition(this.conditions, msg.vmId, new Date(msg.at), msg.condition)
        return
      case 'loaded':
        this.loaded(msg.vmId)
        if (msg.replaces !== undefined) {
          // The new version's subscriptions came in the same batch, just before this message,
          // so from here on the broker routes to the new version only; what is already on its
          // way to the old one reaches it before 'retire' does.
          this.dropVm(msg.replaces)
          this.thread?.send({ t: 'retire', name: msg.name, vmId: msg.replaces })
        }
        return
      case 'loadFailed':
        this.loadFailed(msg.vmId, msg.error)
        return
      case 'unloaded':
      case 'stopped': {
        const record = this.records.get(msg.name)
        if (record?.activeVmId === msg.vmId) {
          record.activeVmId = undefined
          record.activeCode = undefined
          if (msg.t === 'stopped') this.stopped(record, msg.error)
        }
        return
      }
      case 'disposed':
        this.dropVm(msg.vmId)
        return
      case 'evalResult':
        this.evaluations.answer(msg.id, msg.reply)
        return
      case 'closed':
        return
    }
  }

  /**
   * A VM that crashed with its heap full is loaded again from the file, with its last saved
   * persist, unless that keeps happening; any other crash stops the script.
   */
  private stopped(record: ScriptRecord, error: ScriptError): void {
    const memory =
      error.limit === 'memory' && !this.closing ? this.memoryCrashes.note(record.name, Date.now()) : undefined
    const reload = memory?.reload === true
    record.status = reload ? 'loading' : 'stopped'
    record.error = memory ? `${formatScriptError(error)}; ${memory.outcome}` : formatScriptError(error)
    this.scriptLog(record.name, 'error', record.error, error)
    if (reload) void this.reload(record.name)
  }

  private subscribe(vmId: number, subId: number, filter: string): void {
    const activity = this.activity.of(vmId) ?? noActivity()
    this.mirror.subscribe(vmId, subId, filter, (m) => {
      activity.callbacks++
      this.thread?.deliver(vmId, subId, m)
    })
  }

  private dropVm(vmId: number): void {
    this.mirror.dropVm(vmId)
    this.activity.detach(vmId)
    this.timers.delete(vmId)
    this.conditions.delete(vmId)
  }

  private loaded(vmId: number): void {
    const p = this.pending.get(vmId)
    if (!p) return
    this.pending.delete(vmId)
    const { record } = p
    const replaced = record.activeVmId !== undefined
    record.activeVmId = vmId
    record.activeCode = p.code
    record.activeModules = p.modules
    record.status = 'running'
    record.error = undefined
    record.hardStop = undefined
    record.lastReload = new Date()
    this.log.info({ script: record.name, file: record.file }, replaced ? 'script reloaded' : 'script loaded')
    p.done()
  }

  private loadFailed(vmId: number, error: ScriptError): void {
    const p = this.pending.get(vmId)
    if (!p) return
    this.pending.delete(vmId)
    const { record } = p
    record.error = formatScriptError(error)
    // The error now tells of this attempt, not of an earlier hard stop.
    record.hardStop = undefined
    if (record.activeVmId === undefined) record.status = 'error'
    const keeps = record.activeVmId !== undefined ? '; the previous version keeps running' : ''
    this.log.error(
      { script: record.name, file: record.file, stack: error.stack },
      `${record.error} (script not loaded${keeps})`,
    )
    p.done()
  }

  private scriptLog(name: string, level: LogLevel, msg: string, error?: ScriptError): void {
    const record = error && this.records.get(name)
    if (record) record.activity.errors++
    const fields = error?.stack ? { script: name, stack: error.stack } : { script: name }
    this.log[level](fields, msg)
  }

  private async restart(offenderVmId: number | undefined, reason: string): Promise<void> {
    this.evaluations.failAll(`the scripting worker stopped: ${reason}`)
    markWorkerLost(this.records.values(), this.pending, offenderVmId, reason, this.log)
    this.pending.clear()
    for (const vmId of this.mirror.vmIds()) this.dropVm(vmId)
    // VMs without subscriptions too: none of them survived the worker.
    this.conditions.clear()
    const allowed = this.restarts.allow(Date.now())
    if (this.closing) return
    if (!allowed) {
      this.log.error('scripting worker keeps failing; scripts stay stopped until the broker restarts')
      for (const record of this.records.values()) record.status = 'stopped'
      this.thread = undefined
      return
    }
    this.log.warn({ reason }, 'restarting the scripting worker; the other scripts start again from init()')
    this.thread = await this.startThread()
    for (const record of this.records.values()) {
      const code = record.activeCode
      if (code !== undefined) void this.load(record, code, record.activeModules ?? new Map())
    }
  }
}
