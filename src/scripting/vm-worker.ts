/**
 * Worker thread entry: owns every script VM. The main thread keeps routing messages while
 * scripts run here, and its watchdog can terminate this thread when a script ignores the
 * interrupt handler.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import { present } from '../util/invariant.ts'
import { formatScriptError, type ScriptError } from './error-location.ts'
import {
  BUSY_SINCE,
  BUSY_VM,
  type FromWorker,
  type SyncReply,
  type SyncRequest,
  type ToWorker,
  type WorkerData,
} from './protocol.ts'
import { ScriptVm, type VmHost } from './script-vm.ts'
import { type Delivery, PublishPacker, unpackDeliveries } from './thread-batches.ts'

const data = workerData as WorkerData
const port = present(parentPort, 'the parent port (this module runs only as a worker thread)')
const busy = new Float64Array(data.busy)
const syncFlag = new Int32Array(data.syncFlag)
const SYNC_TIMEOUT_MS = 10_000

interface ScriptSlot {
  active: ScriptVm | undefined
  /** `persist` as the unloaded version left it: a load queued behind the unload may carry an older copy. */
  unloadedPersist?: string | undefined
  /** Loads and unloads of one script run one after another. */
  queue: Promise<void>
}

const slots = new Map<string, ScriptSlot>()
const vms = new Map<number, ScriptVm>()
let outbox: FromWorker[] = []

const publishes = new PublishPacker()
let flushScheduled = false

function send(msg: FromWorker): void {
  if (!flushScheduled) {
    flushScheduled = true
    queueMicrotask(flush)
  }
  if (msg.t === 'pub') {
    publishes.add(msg)
    return
  }
  // Keeps order: a subscription made after a publish reaches the host after it.
  sealPublishes()
  outbox.push(msg)
}

function sealPublishes(): void {
  const batch = publishes.seal()
  if (batch) outbox.push(batch)
}

function flush(): void {
  flushScheduled = false
  sealPublishes()
  const batch = outbox
  outbox = []
  if (batch.length === 0) return
  const transfer = batch.flatMap((m) =>
    m.t === 'pubs' ? [m.meta.buffer as ArrayBuffer, m.payloads.buffer as ArrayBuffer] : [],
  )
  port.postMessage(batch, transfer)
}

function logScriptError(name: string, context: string, error: ScriptError): void {
  send({ t: 'log', name, level: 'error', msg: `${formatScriptError(error)} (${context})`, error })
}

const host: VmHost = {
  send,
  syncRequest(req: SyncRequest): SyncReply {
    // Publishes queued so far must reach the broker before the listener moves.
    flush()
    Atomics.store(syncFlag, 0, 0)
    data.syncPort.postMessage(req)
    Atomics.wait(syncFlag, 0, 0, SYNC_TIMEOUT_MS)
    const reply = receiveMessageOnPort(data.syncPort)
    if (!reply) return { ok: false, message: 'no answer from the broker' }
    return reply.message as SyncReply
  },
  enterCall(vmId: number) {
    busy[BUSY_VM] = vmId
    busy[BUSY_SINCE] = Date.now()
  },
  leaveCall() {
    busy[BUSY_SINCE] = 0
  },
  onCrash(vm: ScriptVm, error: ScriptError) {
    vms.delete(vm.vmId)
    const slot = slots.get(vm.name)
    if (slot?.active === vm) slot.active = undefined
    send({ t: 'stopped', name: vm.name, vmId: vm.vmId, error })
  },
}

function slotFor(name: string): ScriptSlot {
  let slot = slots.get(name)
  if (!slot) {
    slot = { active: undefined, queue: Promise.resolve() }
    slots.set(name, slot)
  }
  return slot
}

function enqueue(name: string, job: (slot: ScriptSlot) => Promise<void> | void): void {
  const slot = slotFor(name)
  slot.queue = slot.queue
    .then(() => job(slot))
    .catch((e: unknown) => {
      send({
        t: 'log',
        name,
        level: 'error',
        msg: `scripting worker: ${e instanceof Error ? e.stack : String(e)}`,
      })
    })
    .finally(flush)
}

async function load(
  slot: ScriptSlot,
  name: string,
  vmId: number,
  code: string,
  modules: Map<string, string> | undefined,
  persist: string | undefined,
): Promise<void> {
  let vm: ScriptVm
  try {
    vm = await ScriptVm.create(name, vmId, data.limits, data.wasmModule, host)
  } catch (e) {
    const message = `cannot create the VM: ${e instanceof Error ? e.message : String(e)}`
    send({ t: 'loadFailed', name, vmId, error: { where: name, message } })
    return
  }
  vms.set(vmId, vm)
  // A new version starts from the running one's latest state, which may be newer than the host's.
  vm.restorePersist(slot.active?.alive ? slot.active.persistSnapshot() : (slot.unloadedPersist ?? persist))
  const error = vm.evaluate(code, modules) ?? vm.callExport('init')
  if (error || !vm.alive) {
    vms.delete(vmId)
    vm.dispose()
    send({
      t: 'loadFailed',
      name,
      vmId,
      error: error ?? { where: name, message: 'VM stopped while loading' },
    })
    return
  }
  // The old version keeps its subscriptions until the host has the new version's in place and
  // says 'retire'; a message routed to the old one before that still finds it alive.
  const old = slot.active
  old?.releasePersist()
  slot.active = vm
  slot.unloadedPersist = undefined
  send({ t: 'loaded', name, vmId, replaces: old?.vmId })
}

function retire(vm: ScriptVm): void {
  const error = vm.callExport('deinit')
  if (error) logScriptError(vm.name, 'in deinit()', error)
  vms.delete(vm.vmId)
  vm.dispose()
}

function handle(msg: ToWorker): void {
  switch (msg.t) {
    case 'deliveries':
      unpackDeliveries(msg, enqueueDelivery)
      return
    case 'load':
      enqueue(msg.name, (slot) => load(slot, msg.name, msg.vmId, msg.code, msg.modules, msg.persist))
      return
    case 'retire':
      enqueue(msg.name, () => {
        const vm = vms.get(msg.vmId)
        if (vm) retire(vm)
      })
      return
    case 'unload':
      enqueue(msg.name, (slot) => {
        const vm = slot.active
        slot.active = undefined
        if (!vm) return
        retire(vm)
        slot.unloadedPersist = vm.savedPersist
        send({ t: 'unloaded', name: msg.name, vmId: vm.vmId })
      })
      return
    case 'eval': {
      // Not queued behind a load in progress: `active` is always a version that finished loading.
      const vm = slots.get(msg.name)?.active
      const reply = vm?.alive
        ? vm.consoleEval(msg.expression)
        : { ok: false as const, error: `${msg.name} is not running` }
      // A promise the expression returned is answered once it settles.
      void Promise.resolve(reply).then((settled) => send({ t: 'evalResult', id: msg.id, reply: settled }))
      return
    }
    case 'close':
      void Promise.all([...slots.values()].map((s) => s.queue)).then(() => {
        for (const slot of slots.values()) if (slot.active) retire(slot.active)
        slots.clear()
        send({ t: 'closed' })
        flush()
      })
      return
  }
}

/** VMs with queued deliveries; they get them in one guest call each at the end of the turn. */
const waiting = new Set<ScriptVm>()

function enqueueDelivery(vmId: number, delivery: Delivery): void {
  const vm = vms.get(vmId)
  if (!vm) return // disposed while the message was on its way
  vm.enqueue(delivery)
  waiting.add(vm)
}

function deliverWaiting(): void {
  for (const vm of waiting) vm.flushDeliveries()
  waiting.clear()
}

port.on('message', (batch: ToWorker[]) => {
  for (const msg of batch) {
    // Loads and unloads see every message that arrived before them already delivered.
    if (msg.t !== 'deliveries' && waiting.size > 0) deliverWaiting()
    handle(msg)
  }
  deliverWaiting()
  flush()
})
