import type { Connection } from '../connection.ts'
import type { BrokerCore } from '../core.ts'
import { encodeUnsuback } from '../protocol/encode.ts'
import type { UnsubscribePacket } from '../protocol/packets.ts'
import { Reason } from '../protocol/reason-codes.ts'
import type { Session } from '../sessions.ts'

export function handleUnsubscribe(
  broker: BrokerCore,
  connection: Connection,
  session: Session,
  packet: UnsubscribePacket,
): void {
  const reasons = packet.unsubscriptions.map((filter) =>
    broker.router.removeSubscription(session, filter) ? Reason.success : Reason.noSubscriptionExisted,
  )
  // Answered even when nothing matched [MQTT-3.10.4-5].
  broker.acks.acknowledge(connection, encodeUnsuback(packet.messageId, connection.version, reasons))
}
