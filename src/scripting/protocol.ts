/**
 * Messages between the scripting host (main thread) and the VM worker.
 * Both directions are batched: one postMessage carries every message of one turn.
 */

import type { MessagePort } from 'node:worker_threads'
import type { MessageProperties, QoS } from '../broker/types.ts'
import type { LimitKind, ScriptError } from './error-location.ts'
import type { ScriptLimits } from './options.ts'
import type { ConsoleReply } from './script-console.ts'
import type { JsonProperties } from './script-properties.ts'
import type { WasmModule } from './wasm.ts'

/**
 * MQTT 5 properties as they arrive from the worker: a structured clone turns the correlation
 * data's Buffer into a plain Uint8Array.
 */
export type WireProperties = Omit<MessageProperties, 'correlationData'> & { correlationData?: Uint8Array }

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/**
 * A condition of a running VM that the host shows as the script's status. Sent at most once a
 * second per VM and kind, alongside the log line, so a misbehaving script costs the host little.
 */
export type VmCondition =
  /** ms_publish was rate-limited: `dropped` publishes since the previous report. */
  | { kind: 'throttled'; dropped: number; message: string }
  /** A limit aborted a call; `where` and `message` as in the logged error. */
  | { kind: LimitKind; where: string; message: string }

export type ToWorker =
  /**
   * `modules`: the sources of the modules the script imports, by folder-relative name.
   * `persist`: the script's remembered state (JSON) to restore before its top level runs.
   */
  | {
      t: 'load'
      name: string
      vmId: number
      code: string
      modules?: Map<string, string> | undefined
      persist?: string | undefined
    }
  | { t: 'unload'; name: string }
  /** Deinit and dispose a replaced version, once the host has routed the new version's subscriptions. */
  | { t: 'retire'; name: string; vmId: number }
  /** Messages for script subscriptions, packed by DeliveryPacker (thread-batches.ts). */
  | {
      t: 'deliveries'
      /** One DELIVERY record (wire-formats.ts) per message. */
      meta: Int32Array
      topics: string[]
      clientIds: Array<string | null>
      /** All payloads back to back. */
      payloads: Uint8Array
      /** MQTT 5 properties of the messages that have any: [index, properties]. */
      properties: Array<[number, JsonProperties]>
    }
  /** A dashboard console expression for the running version of `name`; answered by 'evalResult'. */
  | { t: 'eval'; name: string; id: number; expression: string }
  | { t: 'close' }

export type FromWorker =
  | { t: 'loaded'; name: string; vmId: number; replaces: number | undefined }
  | { t: 'loadFailed'; name: string; vmId: number; error: ScriptError }
  | { t: 'unloaded'; name: string; vmId: number }
  /** The running version crashed (WebAssembly fault) and was abandoned. */
  | { t: 'stopped'; name: string; vmId: number; error: ScriptError }
  /** The VM is gone; the host drops its broker subscriptions. */
  | { t: 'disposed'; vmId: number }
  | { t: 'sub'; vmId: number; subId: number; filter: string }
  | { t: 'unsub'; vmId: number; subId: number }
  | {
      t: 'pub'
      vmId: number
      topic: string
      payload: Uint8Array
      qos: QoS
      retain: boolean
      properties?: WireProperties | undefined
    }
  /** Many 'pub' packed by PublishPacker (thread-batches.ts) for the trip to the main thread. */
  | {
      t: 'pubs'
      /** One PUBLISH record (wire-formats.ts) per message. */
      meta: Int32Array
      topics: string[]
      /** All payloads back to back. */
      payloads: Uint8Array
      properties: Array<[number, WireProperties]>
    }
  | { t: 'timers'; vmId: number; count: number }
  | { t: 'credentials'; user?: string | undefined; pass?: string | undefined }
  | { t: 'log'; name: string; level: LogLevel; msg: string; error?: ScriptError | undefined }
  /** `at`: Date.now() in the worker when it happened. */
  | { t: 'condition'; vmId: number; at: number; condition: VmCondition }
  /** The script's `persist` changed: its JSON, to store under the script's name. */
  | { t: 'persist'; name: string; json: string }
  | { t: 'evalResult'; id: number; reply: ConsoleReply }
  | { t: 'closed' }

/** A synchronous request from the worker, answered through a MessagePort while the worker waits on Atomics. */
export type SyncRequest = { t: 'port'; port: number } | { t: 'get'; topic: string }
export type SyncReply = { ok: true; value?: LastValueReply | undefined } | { ok: false; message: string }

/** ms_get's answer: the last message on the topic, its payload copied to its own buffer. */
export interface LastValueReply {
  payload: Uint8Array
  qos: QoS
  retain: boolean
  at: number
}

/** Layout of the shared watchdog buffer (Float64Array). */
export const BUSY_SINCE = 0
export const BUSY_VM = 1

export interface WorkerData {
  limits: ScriptLimits
  wasmModule: WasmModule
  /** Float64Array view: [BUSY_SINCE] = Date.now() when a call into a VM started, 0 when idle; [BUSY_VM] = its vmId. */
  busy: SharedArrayBuffer
  /** Int32Array view used to wake the worker when a SyncReply is ready. */
  syncFlag: SharedArrayBuffer
  syncPort: MessagePort
}
