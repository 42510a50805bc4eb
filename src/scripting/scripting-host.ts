import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import type { LastValue } from '../broker/last-values.ts'
import type { Message, MessageHandler, MessageProperties, PublishInput, QoS } from '../broker/types.ts'
import { formatScriptError } from './error-location.ts'
import { loadHash, readModuleGraph } from './module-graph.ts'
import type { ResolvedScriptingOptions } from './options.ts'
import type {
  FromWorker,
  LastValueReply,
  LimitKind,
  LogLevel,
  ScriptError,
  SyncReply,
  SyncRequest,
} from './protocol.ts'
import type { ConsoleReply } from './script-console.ts'
import { belongsTo, listScripts, resolveScriptSource, type ScriptSource } from './script-files.ts'
import { ScriptWatcher } from './script-watcher.ts'
import { brokerProperties, unpackPublishes } from './thread-batches.ts'
import { VmThread } from './vm-thread.ts'

/** The part of the broker the scripting host uses. */
export interface ScriptBroker {
  readonly logger: Logger
  publish(input: PublishInput): Promise<void>
  subscribe(filter: string, handler: MessageHandler): () => void
  setCredentials(user: string | undefined, pass: string | undefined): void
  /** When present, the user configured at start, so ms_pass alone keeps it. */
  readonly auth?: { readonly username: string | undefined; readonly password?: string | undefined }
  listen(port: number): Promise<number>
  readonly port: number
  /** ms_get reads the broker's last-value cache, which useLastValues turns on; without them ms_get finds nothing. */
  lastValue?(topic: string): LastValue | undefined
  useLastValues?(): void
  /** Where each script's `persist` is kept; without them it lasts only as long as the host. */
  loadScriptStates?(): Promise<Map<string, string>>
  putScriptState?(name: string, json: string | undefined): void
}

/** What the host itself tracks; the reports of a running script refine `running` (see ScriptState). */
type LoadState = 'loading' | 'running' | 'error' | 'stopped'

/**
 * `throttled`: running, but its ms_publish was rate-limited within the last `statusHoldMs`.
 * `over-limit`: running, but a limit aborted one of its calls within that time (see `limit`);
 * it wins over `throttled`, since calls are cut short and not only publishes dropped.
 */
export type ScriptState = LoadState | 'throttled' | 'over-limit'

/** `hard-cpu`: the watchdog stopped the script because one call outlived `hardCpuLimitMs`. */
export type ScriptLimitKind = LimitKind | 'hard-cpu'

export interface ScriptLimitHit {
  kind: ScriptLimitKind
  at: Date
  /** What was logged, e.g. `InternalError: out of memory: exceeded the memory limit of …`. */
  message: string
  /** `file:line:column` (or just the file) of the aborted call; absent for a hard stop. */
  where?: string | undefined
}

export interface ScriptThrottle {
  /** The last report; a script that keeps flooding is reported about once a second. */
  at: Date
  /** Publishes dropped since the report before. */
  dropped: number
  message: string
}

export interface ScriptStatus {
  name: string
  file: string
  status: ScriptState
  /** The last load or runtime failure, `file:line:column message`. Cleared by a successful load. */
  error?: string | undefined
  /** The last limit hit of the running version, or the hard stop that stopped it. Cleared by a successful load. */
  limit?: ScriptLimitHit | undefined
  /** The last time the running version's ms_publish was rate-limited. */
  throttled?: ScriptThrottle | undefined
  subscriptions: number
  timers: number
  lastReload?: Date | undefined
}

export interface ScriptingHost {
  /** Runs every script's deinit(), disposes the VMs, drops their subscriptions, stops watching. Idempotent. */
  close(): Promise<void>
  scripts(): ScriptStatus[]
  /**
   * Loads a script again from its file even when the content is unchanged (a fresh VM, its
   * top level and init() run again; on failure the running version stays). False when no
   * script has that name.
   */
  reload(name: string): Promise<boolean>
  /**
   * Brings a file in line now, as the watcher does after a change (for a module: every script
   * that imports it), and resolves once that load has settled with the status of the scripts it
   * concerns; a deleted script is no longer among them. For a writer that wants the outcome of
   * its write (the dashboard's editor).
   */
  refresh(name: string): Promise<ScriptStatus[]>
  /** The scripts folder (and, for a single script, its file name); undefined before start. */
  scriptSource(): ScriptSource | undefined
  /**
   * Evaluates `expression` inside the running version of the script (the dashboard console):
   * it sees the script's module scope, `persist` and the globals, and runs under the script's
   * CPU and memory limits. The result is formatted like print() (strings quoted), at most
   * 10,000 characters; an error reads `file:line:column message` (`console:…` in the expression).
   * A promise it returns is waited for (up to 30 s) while the script goes on.
   */
  evaluate(name: string, expression: string): Promise<ConsoleReply>
}

interface ScriptRecord {
  name: string
  file: string
  status: LoadState
  error: string | undefined
  /** The watchdog's stop; outlives the VM, unlike the conditions it reported. */
  hardStop: ScriptLimitHit | undefined
  /** Hash of the content last tried, so an unchanged file is not reloaded. */
  hash: string | undefined
  activeVmId: number | undefined
  /** Source of the running version, reloaded after a worker restart. */
  activeCode: string | undefined
  /** The modules the running version imported, by folder-relative name. */
  activeModules?: Map<string, string> | undefined
  /** Every module the script imports, directly or not, as last read: a change to one reloads it. */
  imports?: Set<string> | undefined
  lastReload: Date | undefined
  /** Syncs of one file run one after another. */
  chain: Promise<void>
}

/** What a VM reported about itself; dropped with the VM, so a new version starts clean. */
interface VmConditions {
  limit?: ScriptLimitHit
  throttled?: ScriptThrottle
}

interface PendingLoad {
  record: ScriptRecord
  code: string
  modules: Map<string, string>
  done: () => void
}

/** Restarts allowed in RESTART_WINDOW_MS before the host gives up on a worker that keeps crashing. */
const MAX_RESTARTS = 5
const RESTART_WINDOW_MS = 30_000
/** Characters of a console expression at most. */
const MAX_EXPRESSION = 64 * 1024

/**
 * Main-thread side of scripting: keeps the record of each script, mirrors the VMs'
 * subscriptions onto the broker, forwards publishes, and restarts the VM worker (without
 * the offending script) when the watchdog kills it.
 */
export class ScriptRunner implements ScriptingHost {
  private readonly records = new Map<string, ScriptRecord>()
  private readonly subs = new Map<number, Map<number, () => void>>()
  private readonly timers = new Map<number, number>()
  private readonly conditions = new Map<number, VmConditions>()
  private readonly pending = new Map<number, PendingLoad>()
  private readonly log: Logger
  private source: ScriptSource | undefined
  private watcher: ScriptWatcher | undefined
  private thread: VmThread | undefined
  private threadReady: Promise<void> = Promise.resolve()
  private nextVmId = 1
  private user: string | undefined
  private pass: string | undefined
  private restarts: number[] = []
  private closing: Promise<void> | undefined
  /** Each script's saved `persist` (JSON) by name, sent with every load; kept for deleted scripts too. */
  private states = new Map<string, string>()
  /** Console evaluations sent to the worker, by id. */
  private readonly evaluations = new Map<number, (reply: ConsoleReply) => void>()
  private nextEvalId = 1

  constructor(
    private readonly broker: ScriptBroker,
    private readonly options: ResolvedScriptingOptions,
  ) {
    this.log = broker.logger.child({ component: 'scripting' })
    // ms_user alone must keep the password set at start (and ms_pass alone the user).
    this.user = broker.auth?.username
    this.pass = broker.auth?.password
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
    const now = Date.now()
    const recent = (at: Date | undefined): boolean =>
      at !== undefined && now - at.getTime() < this.options.statusHoldMs
    return [...this.records.values()].map((r) => {
      const vmId = r.activeVmId
      const reported = vmId === undefined ? undefined : this.conditions.get(vmId)
      const limit = reported?.limit ?? r.hardStop
      const throttled = reported?.throttled
      let status: ScriptState = r.status
      if (status === 'running' && recent(limit?.at)) status = 'over-limit'
      else if (status === 'running' && recent(throttled?.at)) status = 'throttled'
      return {
        name: r.name,
        file: r.file,
        status,
        error: r.error,
        limit,
        throttled,
        subscriptions: vmId === undefined ? 0 : (this.subs.get(vmId)?.size ?? 0),
        timers: vmId === undefined ? 0 : (this.timers.get(vmId) ?? 0),
        lastReload: r.lastReload,
      }
    })
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

  async evaluate(name: string, expression: string): Promise<ConsoleReply> {
    if (expression.length > MAX_EXPRESSION) {
      return { ok: false, error: `the expression is longer than ${MAX_EXPRESSION} characters` }
    }
    await this.threadReady
    const record = this.records.get(name)
    if (!record) return { ok: false, error: `no script named ${name}` }
    const thread = this.thread
    if (this.closing || !thread || record.activeVmId === undefined) {
      return { ok: false, error: `${name} is not running (${record.status})` }
    }
    const id = this.nextEvalId++
    return new Promise((resolve) => {
      this.evaluations.set(id, resolve)
      thread.send({ t: 'eval', name, id, expression })
    })
  }

  /** Answers the evaluations still waiting: the worker that had them is gone. */
  private failEvaluations(error: string): void {
    for (const resolve of this.evaluations.values()) resolve({ ok: false, error })
    this.evaluations.clear()
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.watcher?.close()
      await this.threadReady
      await this.thread?.close()
      for (const vmId of [...this.subs.keys()]) this.dropVm(vmId)
      for (const p of this.pending.values()) p.done()
      this.pending.clear()
      this.failEvaluations('the scripting host closed')
    })()
    return this.closing
  }

  /** A script's own file changed, or a module that scripts import: each of them is synced. */
  private fileChanged(name: string): void {
    if (belongsTo(this.source!, name)) void this.sync(name)
    for (const record of this.records.values()) {
      if (record.name !== name && record.imports?.has(name)) void this.sync(record.name)
    }
  }

  /** Brings one script in line with its file: load, reload, or unload. */
  private sync(name: string): Promise<void> {
    const source = this.source!
    let record = this.records.get(name)
    if (!record) {
      record = {
        name,
        file: join(source.dir, name),
        status: 'loading',
        error: undefined,
        hardStop: undefined,
        hash: undefined,
        activeVmId: undefined,
        activeCode: undefined,
        lastReload: undefined,
        chain: Promise.resolve(),
      }
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
    const graph = await readModuleGraph(this.source!.dir, record.name, code)
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
      onSyncRequest: (req) => this.onSyncRequest(req),
      onExit: ({ offenderVmId, reason }) => {
        this.threadReady = this.restart(offenderVmId, reason)
      },
    })
  }

  private async onSyncRequest(req: SyncRequest): Promise<SyncReply> {
    if (req.t === 'get') return { ok: true, value: this.lastValueReply(req.topic) }
    // autoexec scripts often name the port the broker already has (ms_port(1883) at start);
    // binding it a second time would fail, so that is a no-op.
    if (req.port === this.broker.port) return { ok: true }
    try {
      const port = await this.broker.listen(req.port)
      return port === req.port || req.port === 0 ? { ok: true } : { ok: false, message: `bound ${port}` }
    } catch (e) {
      return {
        ok: false,
        message: `cannot listen on port ${req.port}: ${e instanceof Error ? e.message : String(e)}`,
      }
    }
  }

  /** The payload goes in a copy of its own: a view would be cloned with its whole buffer. */
  private lastValueReply(topic: string): LastValueReply | undefined {
    const value = this.broker.lastValue?.(topic)
    if (!value) return undefined
    return { payload: new Uint8Array(value.payload), qos: value.qos, retain: value.retain, at: value.at }
  }

  private onWorkerMessage(msg: FromWorker): void {
    switch (msg.t) {
      case 'persist':
        this.states.set(msg.name, msg.json)
        try {
          this.broker.putScriptState?.(msg.name, msg.json)
        } catch (e) {
          // A store already closed (an embedder that closed the broker first) must not break the host.
          this.log.error({ err: e, script: msg.name }, 'persist not saved: the store refused it')
          return
        }
        this.log.debug({ script: msg.name, bytes: Buffer.byteLength(msg.json) }, 'persist saved')
        return
      case 'sub':
        this.subscribe(msg.vmId, msg.subId, msg.filter)
        return
      case 'unsub': {
        const byVm = this.subs.get(msg.vmId)
        byVm?.get(msg.subId)?.()
        byVm?.delete(msg.subId)
        return
      }
      case 'pub':
        this.publish(msg.topic, msg.payload, msg.qos, msg.retain, brokerProperties(msg.properties))
        return
      case 'pubs':
        unpackPublishes(msg, this.publish)
        return
      case 'timers':
        this.timers.set(msg.vmId, msg.count)
        return
      case 'credentials':
        if ('user' in msg) this.user = msg.user
        if ('pass' in msg) this.pass = msg.pass
        this.broker.setCredentials(this.user, this.pass)
        return
      case 'log':
        this.scriptLog(msg.name, msg.level, msg.msg, msg.error)
        return
      case 'condition': {
        let reported = this.conditions.get(msg.vmId)
        if (!reported) {
          reported = {}
          this.conditions.set(msg.vmId, reported)
        }
        const at = new Date(msg.at)
        const c = msg.condition
        if (c.kind === 'throttled') reported.throttled = { at, dropped: c.dropped, message: c.message }
        else reported.limit = { kind: c.kind, at, message: c.message, where: c.where }
        return
      }
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
          if (msg.t === 'stopped') {
            record.status = 'stopped'
            record.error = formatScriptError(msg.error)
            this.scriptLog(msg.name, 'error', `${record.error}`, msg.error)
          }
        }
        return
      }
      case 'disposed':
        this.dropVm(msg.vmId)
        return
      case 'evalResult':
        this.evaluations.get(msg.id)?.(msg.reply)
        this.evaluations.delete(msg.id)
        return
      case 'closed':
        return
    }
  }

  private readonly publish = (
    topic: string,
    payload: Uint8Array,
    qos: QoS,
    retain: boolean,
    properties: MessageProperties | undefined,
  ): void => {
    this.broker
      .publish(properties ? { topic, payload, qos, retain, properties } : { topic, payload, qos, retain })
      .catch((e: unknown) => this.log.warn({ err: e, topic }, 'script publish failed'))
  }

  private subscribe(vmId: number, subId: number, filter: string): void {
    let byVm = this.subs.get(vmId)
    if (!byVm) {
      byVm = new Map()
      this.subs.set(vmId, byVm)
    }
    const send = (m: Message) => this.thread?.deliver(vmId, subId, m)
    try {
      byVm.set(subId, this.broker.subscribe(filter, send))
    } catch (e) {
      this.log.warn({ err: e, filter }, 'script subscription rejected by the broker')
    }
  }

  private dropVm(vmId: number): void {
    const byVm = this.subs.get(vmId)
    if (byVm) for (const unsubscribe of byVm.values()) unsubscribe()
    this.subs.delete(vmId)
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
    const fields = error?.stack ? { script: name, stack: error.stack } : { script: name }
    this.log[level](fields, msg)
  }

  private async restart(offenderVmId: number | undefined, reason: string): Promise<void> {
    // An offender is only named when the watchdog killed the worker: a hard CPU stop.
    const hardStop = (): ScriptLimitHit => ({ kind: 'hard-cpu', at: new Date(), message: reason })
    this.failEvaluations(`the scripting worker stopped: ${reason}`)
    for (const [vmId, p] of this.pending) {
      if (vmId === offenderVmId) {
        p.record.hardStop = hardStop()
        p.record.error = `${p.record.name} stopped while loading: ${reason}`
        this.log.error(
          { script: p.record.name, file: p.record.file },
          `${p.record.error} (script not loaded)`,
        )
      }
      if (p.record.activeVmId === undefined) p.record.status = 'error'
      p.done()
    }
    this.pending.clear()
    for (const vmId of [...this.subs.keys()]) this.dropVm(vmId)
    // VMs without subscriptions too: none of them survived the worker.
    this.conditions.clear()
    for (const record of this.records.values()) {
      if (offenderVmId !== undefined && record.activeVmId === offenderVmId) {
        record.hardStop = hardStop()
        record.status = 'stopped'
        record.error = `${record.name} stopped: ${reason}; it is loaded again when the file changes`
        record.activeCode = undefined
        this.log.error({ script: record.name, file: record.file }, record.error)
      } else if (record.activeCode !== undefined) {
        record.status = 'loading'
      }
      record.activeVmId = undefined
    }
    const now = Date.now()
    this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS)
    this.restarts.push(now)
    if (this.closing) return
    if (this.restarts.length > MAX_RESTARTS) {
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
