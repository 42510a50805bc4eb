import type { IDisconnectPacket } from 'mqtt-packet'
import type { Connection } from '../connection.ts'
import type { BrokerCore } from '../core.ts'
import { ProtocolError, Reason } from '../protocol/errors.ts'
import type { Session } from '../sessions.ts'

/** Only a normal disconnection (0x00) discards the will; 0x04 and error reasons keep it [MQTT-3.1.2-8]. */
const normal = 0x00

export function handleDisconnect(
  broker: BrokerCore,
  connection: Connection,
  session: Session,
  packet: IDisconnectPacket,
): void {
  const expiry = packet.properties?.sessionExpiryInterval
  if (expiry !== undefined) {
    // A session that was to end with its connection cannot be made persistent now [MQTT-3.14.2-2].
    if (session.expiryInterval === 0 && expiry > 0) {
      throw new ProtocolError(
        'Session Expiry Interval set in DISCONNECT after 0 in CONNECT',
        Reason.protocolError,
      )
    }
    session.expiryInterval = expiry
  }
  // A normal DISCONNECT discards the will [MQTT-3.14.4-3].
  if ((packet.reasonCode ?? normal) === normal) connection.will = undefined
  connection.disconnected = true
  broker.clients.drop(connection, 'client disconnected')
}
