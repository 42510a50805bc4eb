import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads'
import type { Message } from '../broker/types.ts'
import { present } from '../util/invariant.ts'
import type { ScriptLimits } from './options.ts'
import {
  BUSY_SINCE,
  BUSY_VM,
  type FromWorker,
  type SyncReply,
  type SyncRequest,
  type ToWorker,
  type WorkerData,
} from './protocol.ts'
import { DeliveryPacker } from './thread-batches.ts'
import { type WasmModule, wasm } from './wasm.ts'

export interface VmThreadEvents {
  onMessages(batch: FromWorker[]): void
  onSyncRequest(req: SyncRequest): Promise<SyncReply>
  /** The worker died without being asked to (watchdog, crash). `offenderVmId` is the VM that was running. */
  onExit(info: { offenderVmId: number | undefined; reason: string }): void
}

const WATCHDOG_INTERVAL_MS = 50
/** Deliveries per postMessage at most. */
const DELIVERY_SLICE = 2048
const CLOSE_TIMEOUT_MS = 3000

let compiled: Promise<WasmModule> | undefined

/** Compiled once per process; each VM instantiates it with its own capped memory. */
export function quickjsWasmModule(): Promise<WasmModule> {
  compiled ??= (async () => {
    const require = createRequire(import.meta.url)
    const fromQuickjs = createRequire(require.resolve('quickjs-emscripten'))
    const bytes = await readFile(fromQuickjs.resolve('@jitl/quickjs-wasmfile-release-sync/wasm'))
    return wasm.compile(bytes)
  })()
  return compiled
}

function newWorker(data: WorkerData, transferList: MessagePort[]): Worker {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
  const url = new URL(`./vm-worker${ext}`, import.meta.url)
  if (ext === '.js') return new Worker(url, { workerData: data, transferList })
  // Running from source: loader hooks given with --import do not reach worker threads on
  // Node 20, so the worker registers tsx itself before importing the TypeScript entry.
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}) })`
  return new Worker(boot, { eval: true, workerData: data, transferList })
}

/**
 * The worker thread that runs the VMs: batches messages to it, answers its synchronous
 * requests, and terminates it when one call into a script outlives the hard CPU limit.
 */
export class VmThread {
  private outbox: ToWorker[] = []
  private readonly packer = new DeliveryPacker()
  private scheduled = false
  private readonly busy: Float64Array
  private readonly watchdog: NodeJS.Timeout
  private closing = false
  private exited = false
  /** The VM that was running when the watchdog terminated the worker. */
  private killedFor: number | undefined
  private lastError: Error | undefined
  private closedWaiter: (() => void) | undefined

  private constructor(
    private readonly worker: Worker,
    busy: SharedArrayBuffer,
    private readonly hardCpuLimitMs: number,
  ) {
    this.busy = new Float64Array(busy)
    this.watchdog = setInterval(() => this.checkWatchdog(), WATCHDOG_INTERVAL_MS)
    this.watchdog.unref()
  }

  static async start(limits: ScriptLimits, events: VmThreadEvents): Promise<VmThread> {
    const wasmModule = await quickjsWasmModule()
    const busy = new SharedArrayBuffer(2 * Float64Array.BYTES_PER_ELEMENT)
    const syncFlag = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)
    const channel = new MessageChannel()
    const data: WorkerData = { limits, wasmModule, busy, syncFlag, syncPort: channel.port2 }
    const worker = newWorker(data, [channel.port2])
    const thread = new VmThread(worker, busy, limits.hardCpuLimitMs)
    const flag = new Int32Array(syncFlag)
    channel.port1.on('message', (req: SyncRequest) => {
      void events
        .onSyncRequest(req)
        .catch(
          (e: unknown): SyncReply => ({ ok: false, message: e instanceof Error ? e.message : String(e) }),
        )
        .then((reply) => {
          channel.port1.postMessage(reply)
          Atomics.store(flag, 0, 1)
          Atomics.notify(flag, 0)
        })
    })
    channel.port1.unref()
    worker.on('message', (batch: FromWorker[]) => {
      if (batch.some((m) => m.t === 'closed')) thread.closedWaiter?.()
      events.onMessages(batch)
    })
    worker.on('error', (err) => {
      thread.lastError = err
    })
    worker.on('exit', () => {
      thread.exited = true
      clearInterval(thread.watchdog)
      channel.port1.close()
      thread.closedWaiter?.()
      if (thread.closing) return
      const offenderVmId = thread.killedFor
      const reason =
        offenderVmId !== undefined
          ? `a call ran longer than the hard CPU limit of ${limits.hardCpuLimitMs} ms`
          : `the scripting worker crashed${thread.lastError ? `: ${thread.lastError.message}` : ''}`
      events.onExit({ offenderVmId, reason })
    })
    await new Promise<void>((resolve, reject) => {
      worker.once('online', resolve)
      worker.once('error', reject)
    })
    return thread
  }

  send(msg: ToWorker): void {
    if (this.exited) return
    // Keeps order: deliveries routed before this message reach the worker before it.
    this.sealDeliveries()
    this.schedule()
    this.outbox.push(msg)
  }

  /** Queues a message for a script subscription; many of them travel as one packed batch. */
  deliver(vmId: number, subId: number, message: Message): void {
    if (this.exited) return
    this.schedule()
    this.packer.add(vmId, subId, message)
    // A long burst routed in one turn goes out in slices, so the worker starts on it early.
    if (this.packer.count >= DELIVERY_SLICE) this.flush()
  }

  private sealDeliveries(): void {
    const batch = this.packer.seal()
    if (batch) this.outbox.push(batch)
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.flush()
    })
  }

  private flush(): void {
    this.sealDeliveries()
    const batch = this.outbox
    this.outbox = []
    if (batch.length === 0 || this.exited) return
    const transfer = batch.flatMap((m) =>
      m.t === 'deliveries' ? [m.meta.buffer as ArrayBuffer, m.payloads.buffer as ArrayBuffer] : [],
    )
    this.worker.postMessage(batch, transfer)
  }

  private checkWatchdog(): void {
    const since = present(this.busy[BUSY_SINCE], 'the busy-since slot')
    if (since === 0 || this.exited || this.killedFor !== undefined) return
    if (Date.now() - since <= this.hardCpuLimitMs) return
    this.killedFor = present(this.busy[BUSY_VM], 'the busy-VM slot')
    void this.worker.terminate()
  }

  /** Lets the scripts run deinit(), then ends the thread. Safe to call twice. */
  async close(): Promise<void> {
    if (this.exited) return
    if (!this.closing) {
      this.closing = true
      const closed = new Promise<void>((resolve) => {
        this.closedWaiter = resolve
      })
      this.send({ t: 'close' })
      const timer = setTimeout(() => this.closedWaiter?.(), CLOSE_TIMEOUT_MS)
      await closed
      clearTimeout(timer)
    }
    clearInterval(this.watchdog)
    await this.worker.terminate()
  }
}
