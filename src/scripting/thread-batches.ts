import type { Message, MessageProperties, QoS } from '../broker/types.ts'
import type { FromWorker, ToWorker, WireProperties } from './protocol.ts'
import { type JsonProperties, propertiesForScript } from './script-properties.ts'
import { DELIVERY, decodeFlags, PUBLISH, packFlags } from './wire-formats.ts'

/**
 * The two thread formats of wire-formats.ts, each packer beside its unpacker. Cloning one
 * object (and one ArrayBuffer) per message dominated the main thread's cost; here a batch is
 * one Int32Array, string arrays and one payload buffer, moved across without a copy.
 */

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

export type DeliveryBatch = ToWorker & { t: 'deliveries' }
export type PublishBatch = FromWorker & { t: 'pubs' }

/**
 * Main thread: packs messages bound for script subscriptions into one 'deliveries' batch.
 * Payloads are copied once into the batch buffer, which also detaches them from the socket
 * chunk a broker Buffer may be a view of.
 */
export class DeliveryPacker {
  private meta: Int32Array = new Int32Array(256 * DELIVERY.STRIDE)
  private topics: string[] = []
  private clientIds: Array<string | null> = []
  private payloads: Uint8Array[] = []
  private payloadBytes = 0
  private properties: Array<[number, JsonProperties]> = []

  get count(): number {
    return this.topics.length
  }

  add(vmId: number, subId: number, message: Message): void {
    const m = this.topics.length * DELIVERY.STRIDE
    const meta = room(this.meta, m + DELIVERY.STRIDE)
    this.meta = meta
    meta[m + DELIVERY.VM] = vmId
    meta[m + DELIVERY.SUB] = subId
    meta[m + DELIVERY.FLAGS] = packFlags(message.qos, message.retain)
    meta[m + DELIVERY.PAYLOAD_LENGTH] = message.payload.length
    this.topics.push(message.topic)
    if (message.properties) {
      const p = propertiesForScript(message.properties, message.expiresAt, Date.now())
      if (p) this.properties.push([this.topics.length - 1, p])
    }
    this.clientIds.push(message.clientId ?? null)
    this.payloads.push(message.payload)
    this.payloadBytes += message.payload.length
  }

  /** The batch so far, or undefined when empty; starts a new one. */
  seal(): DeliveryBatch | undefined {
    if (this.topics.length === 0) return undefined
    const batch: DeliveryBatch = {
      t: 'deliveries',
      meta: this.meta.slice(0, this.topics.length * DELIVERY.STRIDE),
      topics: this.topics,
      clientIds: this.clientIds,
      payloads: concatBytes(this.payloads, this.payloadBytes),
      properties: this.properties,
    }
    this.properties = []
    this.topics = []
    this.clientIds = []
    this.payloads = []
    this.payloadBytes = 0
    return batch
  }
}

/** Worker: calls `deliver` for each message of a 'deliveries' batch, its payload a view of the batch buffer. */
export function unpackDeliveries(
  batch: DeliveryBatch,
  deliver: (vmId: number, delivery: Delivery) => void,
): void {
  const { meta, topics, clientIds, payloads } = batch
  const properties = batch.properties.length > 0 ? new Map(batch.properties) : undefined
  let offset = 0
  for (let i = 0, m = 0; i < topics.length; i++, m += DELIVERY.STRIDE) {
    const length = meta[m + DELIVERY.PAYLOAD_LENGTH] ?? 0
    const { qos, retain } = decodeFlags(meta[m + DELIVERY.FLAGS] ?? 0)
    deliver(meta[m + DELIVERY.VM] ?? 0, {
      subId: meta[m + DELIVERY.SUB] ?? 0,
      topic: topics[i] ?? '',
      payload: payloads.subarray(offset, offset + length),
      qos,
      retain,
      clientId: clientIds[i] ?? undefined,
      properties: properties?.get(i),
    })
    offset += length
  }
}

/** Worker: packs script publishes into one 'pubs' batch for the main thread. */
export class PublishPacker {
  private properties: Array<[number, WireProperties]> = []
  private meta: Int32Array = new Int32Array(256 * PUBLISH.STRIDE)
  private topics: string[] = []
  private payloads: Uint8Array[] = []
  private payloadBytes = 0

  get empty(): boolean {
    return this.topics.length === 0
  }

  add(msg: FromWorker & { t: 'pub' }): void {
    if (msg.properties) this.properties.push([this.topics.length, msg.properties])
    const m = this.topics.length * PUBLISH.STRIDE
    const meta = room(this.meta, m + PUBLISH.STRIDE)
    this.meta = meta
    meta[m + PUBLISH.VM] = msg.vmId
    meta[m + PUBLISH.FLAGS] = packFlags(msg.qos, msg.retain)
    meta[m + PUBLISH.PAYLOAD_LENGTH] = msg.payload.length
    this.topics.push(msg.topic)
    this.payloads.push(msg.payload)
    this.payloadBytes += msg.payload.length
  }

  seal(): PublishBatch | undefined {
    if (this.topics.length === 0) return undefined
    const batch: PublishBatch = {
      t: 'pubs',
      meta: this.meta.slice(0, this.topics.length * PUBLISH.STRIDE),
      topics: this.topics,
      payloads: concatBytes(this.payloads, this.payloadBytes),
      properties: this.properties,
    }
    this.properties = []
    this.topics = []
    this.payloads = []
    this.payloadBytes = 0
    return batch
  }
}

/**
 * Main thread: calls `publish` for each message of a 'pubs' batch. Retained and QoS>0 messages
 * may be kept for long, so they get their own copy of the bytes instead of a view that would
 * pin the whole batch buffer.
 */
export function unpackPublishes(
  batch: PublishBatch,
  publish: (
    topic: string,
    payload: Buffer,
    qos: QoS,
    retain: boolean,
    properties?: MessageProperties,
  ) => void,
): void {
  const { meta, topics, payloads } = batch
  const properties = batch.properties.length > 0 ? new Map(batch.properties) : undefined
  let offset = 0
  for (let i = 0, m = 0; i < topics.length; i++, m += PUBLISH.STRIDE) {
    const length = meta[m + PUBLISH.PAYLOAD_LENGTH] ?? 0
    const { qos, retain } = decodeFlags(meta[m + PUBLISH.FLAGS] ?? 0)
    const view = Buffer.from(payloads.buffer, payloads.byteOffset + offset, length)
    const payload = retain || qos > 0 ? Buffer.from(view) : view
    publish(topics[i] ?? '', payload, qos, retain, brokerProperties(properties?.get(i)))
    offset += length
  }
}

/** Properties from the worker as the broker keeps them: the MQTT encoder wants a Buffer. */
export function brokerProperties(properties: WireProperties | undefined): MessageProperties | undefined {
  const correlation = properties?.correlationData
  if (correlation === undefined || Buffer.isBuffer(correlation))
    return properties as MessageProperties | undefined
  return { ...properties, correlationData: Buffer.from(correlation) }
}

/** `meta`, or a copy twice its size when it has fewer than `needed` slots. */
function room(meta: Int32Array, needed: number): Int32Array {
  if (needed <= meta.length) return meta
  const grown = new Int32Array(Math.max(needed, meta.length * 2))
  grown.set(meta)
  return grown
}

/**
 * The payloads of a batch in one fresh Uint8Array. Not Buffer.concat: a small Buffer may be a
 * slice of Node's shared pool, and posting it would copy the whole pool to the other thread.
 */
function concatBytes(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}
