import type { Connection } from '../connection.ts'
import type { BrokerCore } from '../core.ts'
import { encodeSuback } from '../protocol/encode.ts'
import { ProtocolError } from '../protocol/errors.ts'
import type { SubscribePacket } from '../protocol/packets.ts'
import { Reason, SubackFailure } from '../protocol/reason-codes.ts'
import type { Session } from '../sessions.ts'
import type { Subscription } from '../subscription.ts'
import { isValidFilter, parseSharedFilter } from '../topic-rules.ts'

export function handleSubscribe(
  broker: BrokerCore,
  connection: Connection,
  session: Session,
  packet: SubscribePacket,
): void {
  const identifier = packet.properties?.subscriptionIdentifier
  if (identifier === 0) throw new ProtocolError('subscription identifier 0', Reason.protocolError)
  for (const { topic, nl } of packet.subscriptions) {
    const shared = parseSharedFilter(topic)
    if (shared && shared !== 'invalid' && isValidFilter(shared.filter) && nl)
      throw new ProtocolError('No Local on a shared subscription [MQTT-3.8.3-4]', Reason.protocolError)
  }
  // On a cluster node the subscription is made once this node's retained messages have caught
  // up with the cluster's, so a retained publish another node acknowledged just before is
  // among those sent, and nothing newer on the topic can overtake them. The client's next
  // packets wait meanwhile, as they would behind a slow handler.
  const ready = broker.router.retainedReady()
  if (ready === undefined) {
    subscribe(broker, connection, session, packet)
    return
  }
  connection.pause()
  void ready.then(() => {
    if (connection.state === 'closed') return
    try {
      subscribe(broker, connection, session, packet)
    } catch (error) {
      broker.logger.error({ err: error, clientId: connection.clientId }, 'subscribe failed')
      broker.clients.drop(connection, 'subscribe failed', Reason.unspecified)
      return
    }
    connection.resume()
  })
}

/** Adds the subscriptions, sends SUBACK, then the retained messages. */
function subscribe(
  broker: BrokerCore,
  connection: Connection,
  session: Session,
  packet: SubscribePacket,
): void {
  const v5 = connection.version === 5
  const identifier = packet.properties?.subscriptionIdentifier
  const granted: number[] = []
  const retainedFor: { filter: string; sub: Subscription }[] = []
  for (const { topic: filter, qos, nl, rap, rh } of packet.subscriptions) {
    const shared = parseSharedFilter(filter)
    const valid = shared !== 'invalid' && isValidFilter(shared ? shared.filter : filter)
    // A bad filter fails only its own entry, the rest of the packet stands [MQTT-3.9.3-2].
    if (!valid) {
      broker.logger.info({ clientId: connection.clientId, filter }, 'invalid topic filter refused')
      granted.push(v5 ? Reason.topicFilterInvalid : SubackFailure)
      continue
    }
    if (!broker.access.maySubscribe(session, filter)) {
      broker.logger.warn({ clientId: connection.clientId, filter }, 'subscription denied by access control')
      granted.push(v5 ? Reason.notAuthorized : SubackFailure)
      continue
    }
    const sub: Subscription = { qos }
    if (v5) {
      if (nl) sub.noLocal = true
      if (rap) sub.retainAsPublished = true
      if (rh) sub.retainHandling = rh as 1 | 2
      if (identifier !== undefined) sub.identifier = identifier
    } else if (connection.bridge) {
      // What Mosquitto does for a bridge (try_private): its own messages do not come back and
      // retain flags stay, so `direction both` does not loop. Set here once, not per message.
      // No Local is meaningless on a shared subscription (and refused there in MQTT 5).
      if (!shared) sub.noLocal = true
      sub.retainAsPublished = true
    }
    const existed = broker.router.addSubscription(session, filter, sub)
    granted.push(qos)
    // Retain Handling: 0 always, 1 only for a new subscription, 2 never [MQTT-3.3.1-9, 3.3.1-10,
    // 3.3.1-11]; and never for a shared subscription (MQTT 5 §3.8.4 and §4.8.2, without an id).
    const handling = sub.retainHandling ?? 0
    if (!shared && (handling === 0 || (handling === 1 && !existed))) retainedFor.push({ filter, sub })
  }
  broker.acks.acknowledge(connection, encodeSuback(packet.messageId, granted, connection.version))
  // Retained messages follow the SUBACK, with the retain flag set [MQTT-3.3.1-8].
  for (const { filter, sub } of retainedFor) {
    const ids = sub.identifier === undefined ? undefined : [sub.identifier]
    for (const message of broker.router.retainedMatching(filter)) {
      if (broker.access.mayRead(session, message.topic)) session.deliver(message, sub.qos, true, ids)
    }
  }
}
