import type { BrokerCore } from '../broker.ts'
import type { Connection } from '../connection.ts'
import { encodeUnsuback } from '../protocol/encode.ts'
import type { UnsubscribePacket } from '../protocol/packets.ts'

const success = 0x00
const noSubscriptionExisted = 0x11

export function handleUnsubscribe(
  broker: BrokerCore,
  connection: Connection,
  packet: UnsubscribePacket,
): void {
  const session = connection.session!
  const reasons = packet.unsubscriptions.map((filter) =>
    broker.removeSubscription(session, filter) ? success : noSubscriptionExisted,
  )
  // Answered even when nothing matched [MQTT-3.10.4-5].
  broker.persistence.acknowledge(connection, encodeUnsuback(packet.messageId, connection.version, reasons))
}
