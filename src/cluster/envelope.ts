/**
 * A routed message as it travels between nodes on a core NATS subject: a small binary header,
 * then the payload unchanged. Binary rather than NATS headers because it is written and read
 * once per message and node, and NATS headers cost a parse and an object per message.
 *
 *   u8   flags: bits 0–1 QoS, bit 2 retain, bit 3 client id, bit 4 expiry, bit 5 properties,
 *        bit 6 kept shares
 *   u8   length of the origin (the sending node's instance id), then its UTF-8 bytes
 *   f64  the origin's sequence number of this message (a receiver drops what it has seen)
 *   [u16 length + UTF-8]  the publishing client's id (for MQTT 5 No Local)
 *   [f64]                 when the message expires, ms since the epoch
 *   [u32 length + ASCII]  MQTT 5 properties as retained-properties.ts encodes them
 *   [u8 count + count × SHARE_ID_LENGTH ASCII]  the `$share` groups the origin kept a copy of
 *                         this message for (shareId): they take it from JetStream, not from
 *                         the routed message (shared-copies.ts)
 *   payload               to the end
 */
import type { Message, QoS } from '../broker/types.ts'
import { decodeProperties, encodeProperties } from './retained-properties.ts'
import { SHARE_ID_LENGTH } from './subjects.ts'

const RETAIN = 4
const CLIENT = 8
const EXPIRES = 16
const PROPS = 32
const SHARES = 64

export interface Envelope {
  origin: string
  seq: number
  message: Message
  /** The ids of the `$share` groups the origin kept a copy for (see the layout above). */
  shares?: string[] | undefined
}

/**
 * The wire form of `message` sent by `origin` (its UTF-8 bytes, at most 255) as number `seq`,
 * with the ids of the `$share` groups it is kept for (at most 255).
 */
export function encodeEnvelope(
  message: Message,
  origin: Buffer,
  seq: number,
  shares?: readonly string[],
): Buffer {
  const client = message.clientId === undefined ? undefined : Buffer.from(message.clientId)
  const props = message.properties === undefined ? undefined : encodeProperties(message.properties)
  let flags = message.qos | (message.retain ? RETAIN : 0)
  let size = 2 + origin.length + 8 + message.payload.length
  if (client !== undefined && client.length <= 0xffff) {
    flags |= CLIENT
    size += 2 + client.length
  }
  if (message.expiresAt !== undefined) {
    flags |= EXPIRES
    size += 8
  }
  if (props !== undefined) {
    flags |= PROPS
    size += 4 + props.length
  }
  if (shares !== undefined && shares.length > 0) {
    flags |= SHARES
    size += 1 + shares.length * SHARE_ID_LENGTH
  }
  const out = Buffer.allocUnsafe(size)
  out[0] = flags
  out[1] = origin.length
  let at = 2 + origin.copy(out, 2)
  at = out.writeDoubleBE(seq, at)
  if (flags & CLIENT && client !== undefined) {
    at = out.writeUInt16BE(client.length, at)
    at += client.copy(out, at)
  }
  if (message.expiresAt !== undefined) at = out.writeDoubleBE(message.expiresAt, at)
  if (props !== undefined) {
    at = out.writeUInt32BE(props.length, at)
    at += out.write(props, at, 'latin1')
  }
  if (flags & SHARES && shares !== undefined) {
    out[at++] = shares.length
    for (const id of shares) at += out.write(id, at, SHARE_ID_LENGTH, 'latin1')
  }
  message.payload.copy(out, at)
  return out
}

/** The envelope in `data`, or undefined when it is not one encodeEnvelope makes. */
export function decodeEnvelope(data: Uint8Array): Envelope | undefined {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  if (buf.length < 10) return undefined
  const flags = buf[0] ?? 0
  const qos = flags & 3
  if (qos === 3 || flags > 127) return undefined
  const originLength = buf[1] ?? 0
  let at = 2 + originLength
  if (at + 8 > buf.length) return undefined
  const origin = buf.toString('utf8', 2, at)
  const seq = buf.readDoubleBE(at)
  at += 8
  let clientId: string | undefined
  if (flags & CLIENT) {
    if (at + 2 > buf.length) return undefined
    const end = at + 2 + buf.readUInt16BE(at)
    if (end > buf.length) return undefined
    clientId = buf.toString('utf8', at + 2, end)
    at = end
  }
  let expiresAt: number | undefined
  if (flags & EXPIRES) {
    if (at + 8 > buf.length) return undefined
    expiresAt = buf.readDoubleBE(at)
    at += 8
  }
  let properties: Message['properties']
  if (flags & PROPS) {
    if (at + 4 > buf.length) return undefined
    const end = at + 4 + buf.readUInt32BE(at)
    if (end > buf.length) return undefined
    properties = decodeProperties(buf.toString('latin1', at + 4, end))
    if (properties === undefined) return undefined
    at = end
  }
  let shares: string[] | undefined
  if (flags & SHARES) {
    const end = at + 1 + (buf[at] ?? 0) * SHARE_ID_LENGTH
    if (end > buf.length) return undefined
    shares = []
    for (let i = at + 1; i < end; i += SHARE_ID_LENGTH)
      shares.push(buf.toString('latin1', i, i + SHARE_ID_LENGTH))
    at = end
  }
  const message: Message = {
    topic: '',
    payload: buf.subarray(at),
    qos: qos as QoS,
    retain: (flags & RETAIN) !== 0,
    clientId,
    properties,
    expiresAt,
  }
  return { origin, seq, message, shares }
}
