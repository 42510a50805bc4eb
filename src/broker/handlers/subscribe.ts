import type { BrokerCore } from '../broker.ts'
import type { Connection } from '../connection.ts'
import { encodeSuback } from '../protocol/encode.ts'
import type { SubscribePacket } from '../protocol/packets.ts'
import { isValidFilter } from '../topics.ts'
import type { QoS } from '../types.ts'

const failure = 0x80

export function handleSubscribe(broker: BrokerCore, connection: Connection, packet: SubscribePacket): void {
  const session = connection.session!
  const granted: number[] = []
  const accepted: { filter: string; qos: QoS }[] = []
  for (const { topic: filter, qos } of packet.subscriptions) {
    // A bad filter fails only its own entry, the rest of the packet stands [MQTT-3.9.3-2].
    if (!isValidFilter(filter)) {
      broker.logger.info({ clientId: connection.clientId, filter }, 'invalid topic filter refused')
      granted.push(failure)
      continue
    }
    if (broker.access?.canSubscribe && !broker.access.canSubscribe(session, filter)) {
      broker.logger.warn({ clientId: connection.clientId, filter }, 'subscription denied by access control')
      granted.push(failure)
      continue
    }
    broker.addSubscription(session, filter, { qos })
    granted.push(qos)
    accepted.push({ filter, qos })
  }
  connection.write(encodeSuback(packet.messageId, granted))
  // Retained messages follow the SUBACK, with the retain flag set [MQTT-3.3.1-8].
  for (const { filter, qos } of accepted) {
    for (const message of broker.retained.match(filter)) {
      if (broker.mayRead(session, message.topic)) session.deliver(message, qos, true)
    }
  }
}
