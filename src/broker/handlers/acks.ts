import type { Connection } from '../connection.ts'
import type { BrokerCore } from '../core.ts'
import { encodeAck } from '../protocol/encode.ts'
import { type AckPacket, PacketType } from '../protocol/packets.ts'
import { isFailure, Reason } from '../protocol/reason-codes.ts'
import type { Session } from '../sessions.ts'

/** PUBACK, PUBREC, PUBREL and PUBCOMP: the two halves of the QoS 1 and QoS 2 handshakes. */
export function handleAck(
  broker: BrokerCore,
  connection: Connection,
  session: Session,
  packet: AckPacket,
): void {
  const id = packet.messageId
  let known: boolean
  switch (packet.cmd) {
    case 'puback':
      known = session.complete(id, 'publish')
      break
    case 'pubrec':
      known = session.received(id, isFailure(packet.reasonCode ?? Reason.success))
      break
    case 'pubcomp':
      known = session.complete(id, 'pubrel')
      break
    case 'pubrel':
      // Always answered, even for an unknown id: the client may be retrying after we
      // already released it [MQTT-4.3.3-2].
      session.releaseIncomingQos2(id)
      broker.acks.acknowledge(connection, encodeAck(PacketType.pubcomp, id, connection.version))
      return
  }
  if (!known)
    broker.logger.debug(
      { clientId: connection.clientId, messageId: id },
      `${packet.cmd} for unknown packet id`,
    )
}
