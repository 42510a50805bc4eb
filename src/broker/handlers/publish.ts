import { isUtf8 } from 'node:buffer'
import type { Connection } from '../connection.ts'
import type { BrokerCore } from '../core.ts'
import { expiryFrom } from '../expiry.ts'
import { encodeAck } from '../protocol/encode.ts'
import { ProtocolError } from '../protocol/errors.ts'
import { PacketType, type PublishPacket } from '../protocol/packets.ts'
import { Reason } from '../protocol/reason-codes.ts'
import type { Session } from '../sessions.ts'
import { topicNameError } from '../topic-rules.ts'
import type { Message, MessageProperties } from '../types.ts'

export function handlePublish(
  broker: BrokerCore,
  connection: Connection,
  session: Session,
  packet: PublishPacket,
): void {
  const v5 = connection.version === 5
  const topic = v5 ? resolveAlias(broker, connection, packet) : packet.topic
  const problem = topicNameError(topic)
  if (problem) throw new ProtocolError(problem, Reason.topicNameInvalid)
  const { qos } = packet
  // Decoding guarantees an id for QoS 1 and 2; QoS 0 has none and never reads this.
  const messageId = packet.messageId ?? 0

  let refusal: { code: number; text: string } | undefined
  if (!broker.access.mayPublish(session, topic)) {
    broker.logger.warn({ clientId: connection.clientId, topic }, 'publish denied by access control')
    refusal = { code: Reason.notAuthorized, text: 'not authorized to publish on this topic' }
  } else if (v5 && packet.properties?.payloadFormatIndicator && !isUtf8(packet.payload)) {
    // A payload announced as UTF-8 must be UTF-8 [MQTT-3.3.2-4 … 3.3.2.3.2].
    if (qos === 0) throw new ProtocolError('payload is not valid UTF-8', Reason.payloadFormatInvalid)
    refusal = { code: Reason.payloadFormatInvalid, text: 'payload is not valid UTF-8' }
  }
  if (refusal) {
    // 3.1.1 has no way to refuse a PUBLISH: it is acknowledged and dropped. MQTT 5 says why.
    if (qos > 0) {
      const type = qos === 1 ? PacketType.puback : PacketType.pubrec
      const { code, text } = refusal
      const ack = connection.withReason(
        (reason) => encodeAck(type, messageId, connection.version, code, reason),
        text,
      )
      broker.acks.acknowledge(connection, ack)
    }
    return
  }

  // The payload is a view into the socket's read buffer. A message that may be kept (queued,
  // in flight, retained) gets its own copy, so it doesn't pin a whole 64 KiB read chunk.
  const keep = qos > 0 || packet.retain
  const message: Message = {
    topic,
    payload: keep ? Buffer.from(packet.payload) : packet.payload,
    qos,
    retain: packet.retain,
    clientId: connection.clientId,
  }
  if (v5 && packet.properties) {
    message.properties = forwarded(packet.properties)
    message.expiresAt = expiryFrom(packet.properties.messageExpiryInterval)
  }
  if (qos === 0) {
    broker.router.route(message)
    return
  }
  if (qos === 1) {
    broker.router.route(message, connection)
    broker.acks.acknowledge(connection, encodeAck(PacketType.puback, messageId))
    return
  }
  // QoS 2, delivered on receipt; the id is remembered until PUBREL so a re-sent PUBLISH
  // (DUP) is acknowledged again but not delivered again [MQTT-4.3.3-2].
  if (!session.incomingQos2.has(messageId)) {
    if (v5 && session.incomingQos2.size >= broker.options.receiveMaximum) {
      throw new ProtocolError(
        'more unacknowledged QoS 2 messages than Receive Maximum',
        Reason.receiveMaximumExceeded,
      )
    }
    session.addIncomingQos2(messageId)
    broker.router.route(message, connection)
  }
  broker.acks.acknowledge(connection, encodeAck(PacketType.pubrec, messageId))
}

/** MQTT 5 Topic Alias: an alias with a topic sets it, an alias with an empty topic uses it. */
function resolveAlias(broker: BrokerCore, connection: Connection, packet: PublishPacket): string {
  const alias = packet.properties?.topicAlias
  if (alias === undefined) return packet.topic
  if (alias === 0 || alias > broker.options.topicAliasMaximum) {
    throw new ProtocolError(
      `topic alias ${alias} outside 1..${broker.options.topicAliasMaximum}`,
      Reason.topicAliasInvalid,
    )
  }
  if (packet.topic !== '') {
    connection.inboundAliases ??= new Map()
    connection.inboundAliases.set(alias, packet.topic)
    return packet.topic
  }
  const topic = connection.inboundAliases?.get(alias)
  if (topic === undefined) throw new ProtocolError(`topic alias ${alias} was never set`, Reason.protocolError)
  return topic
}

/** The properties that travel on to subscribers: not the alias, not subscription ids. */
function forwarded(p: NonNullable<PublishPacket['properties']>): MessageProperties | undefined {
  const { topicAlias: _alias, subscriptionIdentifier: _ids, messageExpiryInterval: _expiry, ...rest } = p
  return Object.keys(rest).length > 0 ? rest : undefined
}
