import type { IDisconnectPacket } from 'mqtt-packet'
import type { Connection } from '../connection.ts'
import type { BrokerCore } from '../core.ts'
import { ProtocolError } from '../protocol/errors.ts'
import { Reason } from '../protocol/reason-codes.ts'
import type { Session } from '../sessions.ts'

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
  // Only a normal DISCONNECT discards the will [MQTT-3.14.4-3]; 0x04 (with will) and error
  // reasons keep it [MQTT-3.1.2-8].
  const reason = packet.reasonCode ?? Reason.normalDisconnection
  if (reason === Reason.normalDisconnection) connection.will = undefined
  connection.disconnected = true
  broker.clients.drop(connection, 'client disconnected')
}
