import type { BrokerCore } from '../broker.ts'
import type { Connection } from '../connection.ts'
import { encodeAck } from '../protocol/encode.ts'
import { ProtocolError, Reason } from '../protocol/errors.ts'
import { PacketType, type PublishPacket } from '../protocol/packets.ts'
import { topicNameError } from '../topics.ts'
import type { Message } from '../types.ts'

export function handlePublish(broker: BrokerCore, connection: Connection, packet: PublishPacket): void {
  const problem = topicNameError(packet.topic)
  if (problem) throw new ProtocolError(problem, Reason.topicNameInvalid)
  const { qos } = packet
  const allowed = !broker.access?.canPublish || broker.access.canPublish(connection.session!, packet.topic)
  if (!allowed) {
    // MQTT 3.1.1 has no way to refuse a PUBLISH: it is acknowledged and dropped.
    broker.logger.warn(
      { clientId: connection.clientId, topic: packet.topic },
      'publish denied by access control',
    )
    if (qos === 1) connection.write(encodeAck(PacketType.puback, packet.messageId!))
    else if (qos === 2) connection.write(encodeAck(PacketType.pubrec, packet.messageId!))
    return
  }
  // The payload is a view into the socket's read buffer. A message that may be kept (queued,
  // in flight, retained) gets its own copy, so it doesn't pin a whole 64 KiB read chunk.
  const keep = qos > 0 || packet.retain
  const message: Message = {
    topic: packet.topic,
    payload: keep ? Buffer.from(packet.payload) : packet.payload,
    qos,
    retain: packet.retain,
    clientId: connection.clientId,
  }
  if (qos === 0) {
    broker.route(message)
    return
  }
  const messageId = packet.messageId!
  if (qos === 1) {
    broker.route(message)
    connection.write(encodeAck(PacketType.puback, messageId))
    return
  }
  // QoS 2, delivered on receipt; the id is remembered until PUBREL so a re-sent PUBLISH
  // (DUP) is acknowledged again but not delivered again [MQTT-4.3.3-2].
  const session = connection.session!
  if (!session.incomingQos2.has(messageId)) {
    session.incomingQos2.add(messageId)
    broker.route(message)
  }
  connection.write(encodeAck(PacketType.pubrec, messageId))
}
