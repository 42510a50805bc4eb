import { isUtf8 } from 'node:buffer'
import type { QuickJSHandle } from 'quickjs-emscripten'
import type { QoS } from '../broker/types.ts'
import type { JsonProperties } from './script-properties.ts'

/** A message for one of a VM's subscriptions. */
export interface Delivery {
  subId: number
  topic: string
  payload: Uint8Array
  qos: QoS
  retain: boolean
  clientId: string | undefined
  properties?: JsonProperties | undefined
}

/** Int32 slots per message; must match the prelude's dispatcher. */
const STRIDE = 9
const decoder = new TextDecoder()

/**
 * The arguments of the prelude's dispatch(): topics and payloads as one string, per message
 * [callback index, topic length, payload length, qos | retain << 2, client id index,
 * binary offset, binary length, subscription id, properties index], the client ids joined
 * by NUL, the raw bytes of payloads that are not valid UTF-8, and the MQTT 5 properties of
 * the messages that have any, as one JSON array. Text payloads' bytes are rebuilt in the guest
 * only when a script reads msg.bytes.
 */
export interface PackedDeliveries {
  /** The deliveries that still had a callback, in batch order. */
  live: Delivery[]
  /** Borrowed from the VM's registry, one per distinct subscription. */
  callbacks: QuickJSHandle[]
  text: string
  meta: ArrayBuffer
  clientIds: string
  binary: ArrayBuffer | undefined
  /** '' when no message in the batch has properties. */
  properties: string
}

export function packDeliveries(
  chunk: Delivery[],
  callbackOf: (subId: number) => QuickJSHandle | undefined,
): PackedDeliveries {
  const live: Delivery[] = []
  const callbacks: QuickJSHandle[] = []
  const callbackIndex = new Map<number, number>()
  const clientIds: string[] = []
  const clientIndex = new Map<string, number>()
  const texts: string[] = []
  const properties: JsonProperties[] = []
  const binaries: Uint8Array[] = []
  let binaryLength = 0
  const meta = new Int32Array(chunk.length * STRIDE)
  for (const d of chunk) {
    const callback = callbackOf(d.subId)
    if (!callback) continue // unsubscribed while the message was on its way
    let ci = callbackIndex.get(d.subId)
    if (ci === undefined) {
      ci = callbacks.length
      callbacks.push(callback)
      callbackIndex.set(d.subId, ci)
    }
    const text = decoder.decode(d.payload)
    const m = live.length * STRIDE
    meta[m] = ci
    meta[m + 1] = d.topic.length
    meta[m + 2] = text.length
    meta[m + 3] = d.qos | (d.retain ? 4 : 0)
    if (d.clientId === undefined) meta[m + 4] = -1
    else {
      let idx = clientIndex.get(d.clientId)
      if (idx === undefined) {
        idx = clientIds.length
        clientIds.push(d.clientId)
        clientIndex.set(d.clientId, idx)
      }
      meta[m + 4] = idx
    }
    if (isUtf8(d.payload)) {
      meta[m + 5] = -1
    } else {
      meta[m + 5] = binaryLength
      meta[m + 6] = d.payload.length
      binaries.push(d.payload)
      binaryLength += d.payload.length
    }
    meta[m + 7] = d.subId
    if (d.properties) {
      meta[m + 8] = properties.length
      properties.push(d.properties)
    } else {
      meta[m + 8] = -1
    }
    texts.push(d.topic, text)
    live.push(d)
  }
  return {
    live,
    callbacks,
    text: texts.join(''),
    meta: meta.buffer.slice(0, live.length * STRIDE * 4),
    clientIds: clientIds.join('\u0000'),
    binary: binaryLength > 0 ? concat(binaries, binaryLength) : undefined,
    properties: properties.length > 0 ? JSON.stringify(properties) : '',
  }
}

function concat(parts: Uint8Array[], length: number): ArrayBuffer {
  const out = new Uint8Array(length)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out.buffer
}
