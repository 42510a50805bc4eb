import { isUtf8 } from 'node:buffer'
import type { QoS } from '../types.ts'
import { ProtocolError } from './errors.ts'
import type { SubscribePacket } from './packets.ts'

/**
 * SUBSCRIBE of MQTT 3.1 and 3.1.1 by hand (MQTT 5, with its properties, stays with
 * mqtt-packet). Every device subscribes right after it connects, so in a reconnect storm
 * (`npm run bench -- broker --scenarios storm`) mqtt-packet's SUBSCRIBE parse — a copy of the
 * packet into its buffer list, then the parse — was 4% of the broker's CPU samples, as
 * much as the CONNECT handler. Same checks and messages as mqtt-packet.
 */
export function decodeSubscribe3(body: Buffer): SubscribePacket {
  if (body.length < 2) throw new ProtocolError('Cannot parse messageId')
  const messageId = body.readUInt16BE(0)
  if (body.length === 2) throw new ProtocolError('Malformed subscribe, no payload specified')
  const subscriptions: SubscribePacket['subscriptions'] = []
  let pos = 2
  while (pos < body.length) {
    if (pos + 2 > body.length) throw new ProtocolError('Cannot parse topic')
    const end = pos + 2 + body.readUInt16BE(pos)
    if (end > body.length) throw new ProtocolError('Cannot parse topic')
    if (!isUtf8(body.subarray(pos + 2, end))) throw new ProtocolError('topic filter is not valid UTF-8')
    const topic = body.toString('utf8', pos + 2, end)
    const options = body[end]
    if (options === undefined) throw new ProtocolError('Malformed Subscribe Payload')
    if (options & 0xfc) throw new ProtocolError('Invalid subscribe topic flag bits, bits 7-2 must be 0')
    if (options > 2) throw new ProtocolError('Invalid subscribe QoS, must be <= 2')
    subscriptions.push({ topic, qos: options as QoS })
    pos = end + 1
  }
  return { cmd: 'subscribe', messageId, subscriptions }
}
