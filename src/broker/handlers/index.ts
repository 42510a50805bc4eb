/**
 * src/broker/handlers: what the broker does with each MQTT control packet a client sends, one
 * module per packet kind (connect, publish, subscribe, unsubscribe, acks for PUBACK, PUBREC,
 * PUBREL and PUBCOMP, ping, disconnect), and dispatch() here, which connections.ts calls with
 * every packet the framer cuts.
 *
 * Must not import: the Broker facade (broker.ts, broker-options.ts) or the parts that implement
 * BrokerCore (parts, connections, session-lifecycle, router, local-delivery, access-gate,
 * persistence): handlers see the broker only through BrokerCore (core.ts), beside the codec
 * (protocol/) and the modules they act on (connection, sessions, subscription, topic-rules,
 * shared, expiry, auth, types). Nothing outside src/broker, like the rest of the broker.
 */
import type { Connection } from '../connection.ts'
import type { BrokerCore } from '../core.ts'
import { decodeConnect, decodePacket } from '../protocol/decode.ts'
import { ProtocolError } from '../protocol/errors.ts'
import { PacketType } from '../protocol/packets.ts'
import { Reason } from '../protocol/reason-codes.ts'
import { handleAck } from './acks.ts'
import { handleConnect } from './connect.ts'
import { handleDisconnect } from './disconnect.ts'
import { handlePing } from './ping.ts'
import { handlePublish } from './publish.ts'
import { handleSubscribe } from './subscribe.ts'
import { handleUnsubscribe } from './unsubscribe.ts'

/**
 * Checks the connection's state, decodes, and sends each packet to its handler with the
 * client's session. Handlers throw ProtocolError; the connection catches it and its owner
 * (connections.ts, protocolError) turns it into a logged close of this client only.
 */
export function dispatch(broker: BrokerCore, connection: Connection, header: number, body: Buffer): void {
  if (connection.state === 'closed') return
  if (connection.state === 'connecting') {
    if (header >> 4 !== PacketType.connect) {
      throw new ProtocolError('first packet must be CONNECT [MQTT-3.1.0-1]', Reason.protocolError)
    }
    handleConnect(broker, connection, decodeConnect(header, body))
    return
  }
  const session = connection.session
  // CONNECT gave every connected client its session; without one this is a bug, and closes it.
  if (session === undefined) throw new Error('connected without a session')
  const packet = decodePacket(header, body, connection.version)
  switch (packet.cmd) {
    case 'publish':
      handlePublish(broker, connection, session, packet)
      return
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      handleAck(broker, connection, session, packet)
      return
    case 'subscribe':
      handleSubscribe(broker, connection, session, packet)
      return
    case 'unsubscribe':
      handleUnsubscribe(broker, connection, session, packet)
      return
    case 'pingreq':
      handlePing(connection)
      return
    case 'disconnect':
      handleDisconnect(broker, connection, session, packet)
      return
    default:
      throw new ProtocolError(`unexpected ${packet.cmd} packet`, Reason.protocolError)
  }
}
