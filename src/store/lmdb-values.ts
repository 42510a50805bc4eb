import type { Subscription } from '../broker/subscription.ts'
import type { Message, MessageProperties } from '../broker/types.ts'
import type { SessionMeta, StoredMessage } from './store.ts'

/**
 * What goes into LMDB values (msgpack, which keeps Buffers as binary). Copies are taken at
 * write time because the broker keeps mutating its objects (an outgoing entry gets its packet
 * id later); undefined fields are left out. The readers check shapes, so a damaged value is
 * reported instead of handed to the broker.
 */

export function messageValue(message: Message): Record<string, unknown> {
  const value: Record<string, unknown> = {
    topic: message.topic,
    payload: message.payload,
    qos: message.qos,
    retain: message.retain,
  }
  if (message.clientId !== undefined) value.clientId = message.clientId
  if (message.properties !== undefined) value.properties = defined(message.properties)
  if (message.expiresAt !== undefined) value.expiresAt = message.expiresAt
  return value
}

export function storedMessageValue(entry: StoredMessage): Record<string, unknown> {
  const value: Record<string, unknown> = {
    seq: entry.seq,
    qos: entry.qos,
    retain: entry.retain,
    message: messageValue(entry.message),
  }
  if (entry.subscriptionIds !== undefined) value.subscriptionIds = [...entry.subscriptionIds]
  if (entry.messageId !== undefined) value.messageId = entry.messageId
  if (entry.state !== undefined) value.state = entry.state
  if (entry.clusterKey !== undefined) value.clusterKey = entry.clusterKey
  return value
}

export function sessionValue(meta: SessionMeta): Record<string, unknown> {
  const value: Record<string, unknown> = {
    clientId: meta.clientId,
    expiryInterval: meta.expiryInterval,
    subscriptions: meta.subscriptions.map((s) => defined(s)),
  }
  if (meta.disconnectedAt !== undefined) value.disconnectedAt = meta.disconnectedAt
  return value
}

/** The script's name travels in the value, since a long one is hashed in the key. */
export function scriptStateValue(name: string, json: string): Record<string, unknown> {
  return { name, json }
}

export function readScriptState(value: unknown): { name: string; json: string } {
  const v = record(value)
  if (typeof v.name !== 'string' || typeof v.json !== 'string')
    throw new BadValue('script state without a name or JSON')
  return { name: v.name, json: v.json }
}

/** Thrown by the readers; the store adds the path and key. */
export class BadValue extends Error {}

export function readMessage(value: unknown): Message {
  const v = record(value)
  const payload = v.payload
  if (typeof v.topic !== 'string') throw new BadValue('message without a topic')
  if (!(payload instanceof Uint8Array)) throw new BadValue('message without a binary payload')
  const qos = v.qos
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new BadValue('message with a bad QoS')
  const message: Message = { topic: v.topic, payload: toBuffer(payload), qos, retain: v.retain === true }
  if (typeof v.clientId === 'string') message.clientId = v.clientId
  if (v.properties !== undefined) message.properties = readProperties(v.properties)
  if (typeof v.expiresAt === 'number') message.expiresAt = v.expiresAt
  return message
}

export function readStoredMessage(value: unknown): StoredMessage {
  const v = record(value)
  if (typeof v.seq !== 'number') throw new BadValue('outgoing message without a seq')
  if (v.qos !== 1 && v.qos !== 2) throw new BadValue('outgoing message with a bad QoS')
  const entry: StoredMessage = {
    seq: v.seq,
    qos: v.qos,
    retain: v.retain === true,
    message: readMessage(v.message),
  }
  if (Array.isArray(v.subscriptionIds)) entry.subscriptionIds = v.subscriptionIds.map(Number)
  if (typeof v.messageId === 'number') entry.messageId = v.messageId
  if (v.state === 'publish' || v.state === 'pubrel') entry.state = v.state
  if (typeof v.clusterKey === 'string') entry.clusterKey = v.clusterKey
  return entry
}

export function readSession(value: unknown): SessionMeta {
  const v = record(value)
  if (typeof v.clientId !== 'string') throw new BadValue('session without a client id')
  if (typeof v.expiryInterval !== 'number') throw new BadValue('session without an expiry interval')
  if (!Array.isArray(v.subscriptions)) throw new BadValue('session without subscriptions')
  const subscriptions = v.subscriptions.map((s: unknown) => {
    const sub = record(s)
    if (typeof sub.filter !== 'string') throw new BadValue('subscription without a filter')
    if (sub.qos !== 0 && sub.qos !== 1 && sub.qos !== 2) throw new BadValue('subscription with a bad QoS')
    return sub as unknown as { filter: string } & Subscription
  })
  const meta: SessionMeta = { clientId: v.clientId, expiryInterval: v.expiryInterval, subscriptions }
  if (typeof v.disconnectedAt === 'number') meta.disconnectedAt = v.disconnectedAt
  return meta
}

function readProperties(value: unknown): MessageProperties {
  const properties = record(value) as MessageProperties
  // msgpack gives binary back as Uint8Array in some builds; the broker expects Buffers.
  const data = properties.correlationData as unknown
  if (data instanceof Uint8Array) properties.correlationData = toBuffer(data)
  return properties
}

function record(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadValue('not a record')
  return value as Record<string, unknown>
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}
