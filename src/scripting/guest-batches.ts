import { isUtf8 } from 'node:buffer'
import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten'
import type { MessageProperties, QoS } from '../broker/types.ts'
import { readGuestText } from './guest-text.ts'
import type { JsonProperties } from './script-properties.ts'
import { propertiesFromScript } from './script-properties.ts'
import type { Delivery } from './thread-batches.ts'
import { DISPATCH, DRAINED, decodeFlags, GUEST_PUBLISH, NONE, packFlags } from './wire-formats.ts'

/**
 * The host's half of the two guest formats of wire-formats.ts: it packs DISPATCH batches for
 * the prelude's dispatch() and unpacks the GUEST_PUBLISH chunks its drain() returns. The
 * guest's half is in guest-prelude.ts, built from the same constants.
 */

const decoder = new TextDecoder()
const encoder = new TextEncoder()

/**
 * The arguments of the prelude's dispatch(): topics and text payloads as one string, one
 * DISPATCH record per message, the client ids joined by NUL, the raw bytes of payloads that are
 * not valid UTF-8, and the MQTT 5 properties of the messages that have any, as one JSON array.
 * Text payloads' bytes are rebuilt in the guest only when a script reads msg.bytes.
 */
export interface PackedDeliveries {
  /** The deliveries that still had a callback, in batch order. */
  live: Delivery[]
  /** Borrowed from the VM's registry, one per distinct subscription. */
  callbacks: QuickJSHandle[]
  text: string
  meta: ArrayBuffer
  /** The batch's distinct client ids as a JSON array (ids may hold U+0000); '' when none. */
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
  const meta = new Int32Array(chunk.length * DISPATCH.STRIDE)
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
    const m = live.length * DISPATCH.STRIDE
    meta[m + DISPATCH.CALLBACK] = ci
    meta[m + DISPATCH.TOPIC_LENGTH] = d.topic.length
    meta[m + DISPATCH.TEXT_LENGTH] = text.length
    meta[m + DISPATCH.FLAGS] = packFlags(d.qos, d.retain)
    if (d.clientId === undefined) meta[m + DISPATCH.CLIENT_ID] = NONE
    else {
      let idx = clientIndex.get(d.clientId)
      if (idx === undefined) {
        idx = clientIds.length
        clientIds.push(d.clientId)
        clientIndex.set(d.clientId, idx)
      }
      meta[m + DISPATCH.CLIENT_ID] = idx
    }
    if (isUtf8(d.payload)) {
      meta[m + DISPATCH.BINARY_OFFSET] = NONE
    } else {
      meta[m + DISPATCH.BINARY_OFFSET] = binaryLength
      meta[m + DISPATCH.BINARY_LENGTH] = d.payload.length
      binaries.push(d.payload)
      binaryLength += d.payload.length
    }
    meta[m + DISPATCH.SUB] = d.subId
    if (d.properties) {
      meta[m + DISPATCH.PROPERTIES] = properties.length
      properties.push(d.properties)
    } else {
      meta[m + DISPATCH.PROPERTIES] = NONE
    }
    texts.push(d.topic, text)
    live.push(d)
  }
  return {
    live,
    callbacks,
    text: texts.join(''),
    meta: meta.buffer.slice(0, live.length * DISPATCH.STRIDE * Int32Array.BYTES_PER_ELEMENT),
    clientIds: clientIds.length > 0 ? JSON.stringify(clientIds) : '',
    binary: binaryLength > 0 ? concat(binaries, binaryLength).buffer : undefined,
    properties: properties.length > 0 ? JSON.stringify(properties) : '',
  }
}

export interface ScriptPublish {
  topic: string
  payload: Uint8Array
  qos: QoS
  retain: boolean
  properties: MessageProperties | undefined
}

/** Unpacks what the prelude's drain() returns (borrowed handle): see DRAINED and GUEST_PUBLISH. */
export function readPublishChunk(
  ctx: QuickJSContext,
  chunk: QuickJSHandle,
): { publishes: ScriptPublish[]; dropped: number } {
  if (ctx.typeof(chunk) !== 'object') return { publishes: [], dropped: 0 }
  const textHandle = ctx.getProp(chunk, DRAINED.TEXT)
  const metaHandle = ctx.getProp(chunk, DRAINED.META)
  const binaryHandle = ctx.getProp(chunk, DRAINED.BINARY)
  const droppedHandle = ctx.getProp(chunk, DRAINED.DROPPED)
  try {
    const text = readGuestText(ctx, textHandle)
    const metaBytes = copyBytes(ctx, metaHandle)
    const meta = new Int32Array(metaBytes.buffer, 0, metaBytes.length >> 2)
    const binary = ctx.typeof(binaryHandle) === 'object' ? copyBytes(ctx, binaryHandle) : new Uint8Array(0)
    const publishes: ScriptPublish[] = []
    let pos = 0
    let binaryOffset = 0
    for (let m = 0; m < meta.length; m += GUEST_PUBLISH.STRIDE) {
      const topicLength = meta[m + GUEST_PUBLISH.TOPIC_LENGTH] ?? 0
      const topic = text.slice(pos, pos + topicLength)
      pos += topicLength
      let payload: Uint8Array
      const binaryLength = meta[m + GUEST_PUBLISH.BINARY_LENGTH] ?? NONE
      if (binaryLength < 0) {
        const textLength = meta[m + GUEST_PUBLISH.TEXT_LENGTH] ?? 0
        payload = encoder.encode(text.slice(pos, pos + textLength))
        pos += textLength
      } else {
        payload = binary.slice(binaryOffset, binaryOffset + binaryLength)
        binaryOffset += binaryLength
      }
      const propertiesLength = meta[m + GUEST_PUBLISH.PROPERTIES_LENGTH] ?? 0
      const properties =
        propertiesLength > 0 ? propertiesFromScript(text.slice(pos, pos + propertiesLength)) : undefined
      pos += propertiesLength
      const { qos, retain } = decodeFlags(meta[m + GUEST_PUBLISH.FLAGS] ?? 0)
      publishes.push({ topic, payload, qos, retain, properties })
    }
    return { publishes, dropped: ctx.getNumber(droppedHandle) }
  } finally {
    textHandle.dispose()
    metaHandle.dispose()
    binaryHandle.dispose()
    droppedHandle.dispose()
  }
}

/** Copies a guest ArrayBuffer (borrowed handle) out of the VM's memory. */
export function copyBytes(ctx: QuickJSContext, handle: QuickJSHandle): Uint8Array {
  const view = ctx.getArrayBuffer(handle)
  try {
    return view.value.slice()
  } finally {
    view.dispose()
  }
}

function concat(parts: Uint8Array[], length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}
