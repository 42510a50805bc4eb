/**
 * Pre-encoded MQTT 3.1.1 packets. Everything the hot loops send is built once here, so
 * the generator spends its time in socket writes, not in encoding.
 */
import { generate } from 'mqtt-packet'

export const CONNACK = 2
export const PUBLISH = 3
export const PUBACK = 4
export const PUBREC = 5
export const PUBREL = 6
export const PUBCOMP = 7
export const SUBACK = 9
export const PINGRESP = 13

export const DISCONNECT = Buffer.from([0xe0, 0x00])

export function connectPacket(clientId: string, keepalive = 0, clean = true): Buffer {
  return generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean,
    clientId,
    keepalive,
  })
}

export function subscribePacket(messageId: number, topic: string, qos: 0 | 1 | 2): Buffer {
  return generate({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] })
}

export function publishPacket(topic: string, payload: Buffer, qos: 0 | 1 | 2, messageId = 1): Buffer {
  return qos === 0
    ? generate({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false })
    : generate({ cmd: 'publish', topic, payload, qos, messageId, retain: false, dup: false })
}

/** `count` copies of one packet back to back: one socket write sends them all. */
export function repeat(packet: Buffer, count: number): Buffer {
  const out = Buffer.allocUnsafe(packet.length * count)
  for (let i = 0; i < count; i++) packet.copy(out, i * packet.length)
  return out
}

export function writePuback(out: Buffer, offset: number, messageId: number): void {
  writeAck(out, offset, 0x40, messageId)
}

/** A 4-byte acknowledgement (PUBACK 0x40, PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70) at `offset`. */
export function writeAck(out: Buffer, offset: number, first: number, messageId: number): void {
  out[offset] = first
  out[offset + 1] = 0x02
  out.writeUInt16BE(messageId, offset + 2)
}

/**
 * Offset of a PUBLISH payload and its packet id (0 for QoS 0), read from the wire; `header` is
 * the fixed header's first byte.
 */
export function publishLayout(
  buf: Buffer,
  header: number,
  body: number,
): { payload: number; messageId: number } {
  const qos = (header >> 1) & 3
  const topicEnd = body + 2 + buf.readUInt16BE(body)
  return qos === 0
    ? { payload: topicEnd, messageId: 0 }
    : { payload: topicEnd + 2, messageId: buf.readUInt16BE(topicEnd) }
}

/** The packet id of a QoS 1/2 PUBLISH, without allocating: used per delivery on hot paths. */
export function publishMessageId(buf: Buffer, body: number): number {
  return buf.readUInt16BE(body + 2 + buf.readUInt16BE(body))
}
