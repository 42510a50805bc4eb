import mqttPacket from 'mqtt-packet'
import type { MessageProperties, ProtocolVersion, QoS } from '../types.ts'
import { PacketType } from './packets.ts'
import { Reason } from './reason-codes.ts'
import { varintSize, writeVarint } from './varint.ts'

/**
 * The one module that turns packets into bytes. MQTT 3.x packets are written by hand (they
 * are a few fixed bytes, and PUBLISH is the hot path); MQTT 5 packets, with their
 * properties, go through mqtt-packet's generator.
 */

const v5 = { protocolVersion: 5 }

export type ConnackProperties = NonNullable<mqttPacket.IConnackPacket['properties']>

export function encodeConnack(
  version: ProtocolVersion,
  sessionPresent: boolean,
  code: number,
  properties?: ConnackProperties,
): Buffer {
  if (version === 5) {
    return mqttPacket.generate({ cmd: 'connack', sessionPresent, reasonCode: code, properties }, v5)
  }
  return Buffer.from([PacketType.connack << 4, 2, sessionPresent ? 1 : 0, code])
}

/** Properties of an outgoing MQTT 5 PUBLISH: the message's, plus what is per delivery. */
export interface OutgoingProperties extends MessageProperties {
  topicAlias?: number
  subscriptionIdentifier?: number | number[]
}

export interface PublishFields {
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
  dup: boolean
  messageId?: number | undefined
}

/** MQTT 3.1 / 3.1.1 PUBLISH, written into one buffer (header, topic, id, payload). */
export function encodePublish(p: PublishFields): Buffer {
  const topicLength = Buffer.byteLength(p.topic)
  const length = 2 + topicLength + (p.qos > 0 ? 2 : 0) + p.payload.length
  const headerLength = 1 + varintSize(length)
  const out = Buffer.allocUnsafe(headerLength + length)
  out[0] = (PacketType.publish << 4) | (p.dup ? 8 : 0) | (p.qos << 1) | (p.retain ? 1 : 0)
  let pos = writeVarint(out, 1, length)
  out.writeUInt16BE(topicLength, pos)
  pos += 2
  pos += out.write(p.topic, pos)
  if (p.qos > 0) {
    out.writeUInt16BE(p.messageId ?? 0, pos)
    pos += 2
  }
  p.payload.copy(out, pos)
  return out
}

export function encodePublish5(p: PublishFields, properties: OutgoingProperties | undefined): Buffer {
  return mqttPacket.generate(
    {
      cmd: 'publish',
      topic: p.topic,
      payload: p.payload,
      qos: p.qos,
      retain: p.retain,
      dup: p.dup,
      messageId: p.qos > 0 ? p.messageId : undefined,
      properties,
    },
    v5,
  )
}

type AckType = 4 | 5 | 6 | 7
const ackCmds = { 4: 'puback', 5: 'pubrec', 6: 'pubrel', 7: 'pubcomp' } as const

/** PUBACK, PUBREC, PUBREL (flags 0b0010) and PUBCOMP; MQTT 5 adds a reason code. */
export function encodeAck(
  type: AckType,
  messageId: number,
  version: ProtocolVersion = 4,
  reasonCode: number = Reason.success,
  reasonString?: string,
): Buffer {
  if (version === 5 && (reasonCode !== Reason.success || reasonString !== undefined)) {
    return mqttPacket.generate(
      {
        cmd: ackCmds[type],
        messageId,
        reasonCode,
        properties: reasonString === undefined ? undefined : { reasonString },
      } as mqttPacket.Packet,
      v5,
    )
  }
  // With reason 0 and no properties MQTT 5 allows the 3.x form [MQTT-3.4.2.1].
  return Buffer.from([
    (type << 4) | (type === PacketType.pubrel ? 2 : 0),
    2,
    messageId >> 8,
    messageId & 0xff,
  ])
}

export function encodeSuback(
  messageId: number,
  granted: readonly number[],
  version: ProtocolVersion = 4,
): Buffer {
  if (version === 5) return mqttPacket.generate({ cmd: 'suback', messageId, granted: [...granted] }, v5)
  const length = 2 + granted.length
  const out = Buffer.allocUnsafe(1 + varintSize(length) + length)
  out[0] = PacketType.suback << 4
  let pos = writeVarint(out, 1, length)
  out.writeUInt16BE(messageId, pos)
  pos += 2
  for (const code of granted) out[pos++] = code
  return out
}

export function encodeUnsuback(
  messageId: number,
  version: ProtocolVersion = 4,
  reasons: readonly number[] = [],
): Buffer {
  if (version === 5) return mqttPacket.generate({ cmd: 'unsuback', messageId, granted: [...reasons] }, v5)
  return Buffer.from([PacketType.unsuback << 4, 2, messageId >> 8, messageId & 0xff])
}

/** MQTT 5 only: the server tells the client why it is being disconnected. */
export function encodeDisconnect(reasonCode: number, reasonString?: string): Buffer {
  return mqttPacket.generate(
    { cmd: 'disconnect', reasonCode, properties: reasonString === undefined ? undefined : { reasonString } },
    v5,
  )
}

export const pingresp: Buffer = Buffer.from([PacketType.pingresp << 4, 0])
