import type { BrokerCore } from '../broker.ts'
import type { Connection } from '../connection.ts'
import { encodeUnsuback } from '../protocol/encode.ts'
import type { UnsubscribePacket } from '../protocol/packets.ts'

export function handleUnsubscribe(
  broker: BrokerCore,
  connection: Connection,
  packet: UnsubscribePacket,
): void {
  const session = connection.session!
  for (const filter of packet.unsubscriptions) broker.removeSubscription(session, filter)
  // Answered even when nothing matched [MQTT-3.10.4-5].
  connection.write(encodeUnsuback(packet.messageId))
}
